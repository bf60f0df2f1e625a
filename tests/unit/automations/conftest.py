"""Fixtures for imports and exports: the emulator, a fast client, a files folder per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pyairtable_ui.core.settings import get_settings
from tests.unit.actions.conftest import (
    airtable_emulator,
    airtable_emulator_factory,
    make_client,
    other_user_id,
    session_factory,
    user_id,
)

__all__ = [
    "airtable_emulator",
    "airtable_emulator_factory",
    "make_client",
    "other_user_id",
    "session_factory",
    "user_id",
]


@pytest.fixture(autouse=True)
def files_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Uploads and exports go to the test's own folder."""
    folder = tmp_path / "files"
    monkeypatch.setenv("FILES_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()
