"""The emulator tokens and bases the app's integration tests use."""

from __future__ import annotations

from dataclasses import dataclass

from pyairtable_ui.emulator.seeds import (
    BASE_PROJECTS_ID,
    TOKEN_FULL,
    TOKEN_NO_BASES,
    TOKEN_READ_ONLY,
)


@dataclass(frozen=True)
class AppTokens:
    """Tokens of the small emulator seed, by what they let a user do."""

    full: str = TOKEN_FULL
    no_bases: str = TOKEN_NO_BASES
    read_only: str = TOKEN_READ_ONLY
    base_id: str = BASE_PROJECTS_ID
    base_name: str = "Emulator Projects"


def app_tokens(_emulator: object) -> AppTokens:
    """The tokens of the seed the app's emulator was started with."""
    return AppTokens()
