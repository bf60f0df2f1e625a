"""Fixtures for the LLM gateway tests: the scripted LLM, and no network beyond loopback."""

from __future__ import annotations

from tests.unit.chat.conftest import no_network_beyond_loopback, scripted_llm

__all__ = ["no_network_beyond_loopback", "scripted_llm"]
