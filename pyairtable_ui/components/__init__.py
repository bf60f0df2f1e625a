"""Reusable pieces of the UI."""
