"""Tests of the scripted LLM test double, driven through litellm."""
