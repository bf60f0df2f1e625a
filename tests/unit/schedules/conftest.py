"""Fixtures for the schedules tests: the app's database, the scripted LLM, the emulator, a
user connected to it, and a schedule of theirs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from pyairtable_ui.airtable.connections import check_airtable_token, save_connection
from pyairtable_ui.auth.models import User
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TOKEN_FULL
from pyairtable_ui.schedules import service
from pyairtable_ui.schedules.service import ScheduleFields
from tests.fakes.airtable_fixtures import airtable_emulator
from tests.fakes.llm import ScriptedLLM
from tests.fakes.llm.fixtures import scripted_llm
from tests.unit.chat.conftest import API_KEY, app_database, make_user

__all__ = ["airtable_emulator", "app_database", "scripted_llm"]

MODEL = "openai/scripted-schedules"


@pytest.fixture
def connected(
    app_database: Engine,
    airtable_emulator: AirtableEmulator,
    scripted_llm: ScriptedLLM,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[int]:
    """A user whose stored token sees the emulator's bases; the LLM is the scripted one."""
    monkeypatch.setenv("AIRTABLE_API_URL", airtable_emulator.url)
    monkeypatch.setenv("LLM_API_BASE", scripted_llm.api_base)
    monkeypatch.setenv("LLM_API_KEY", API_KEY)
    monkeypatch.setenv("LLM_MODEL", MODEL)
    monkeypatch.setenv("LLM_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("LLM_MAX_STEPS", "4")
    get_settings.cache_clear()
    check = check_airtable_token(TOKEN_FULL, api_url=airtable_emulator.url)
    with Session(app_database, expire_on_commit=False) as session:
        user_id = make_user(session, "sam@example.com")
        user = session.get(User, user_id)
        assert user is not None
        save_connection(session=session, user=user, token=TOKEN_FULL, check=check)
        session.commit()
    yield user_id
    get_settings.cache_clear()


def fields(prompt: str = "Which tasks are not done?", **changes: object) -> ScheduleFields:
    """A schedule's fields on the emulator's Projects base."""
    values: dict[str, object] = {
        "name": "",
        "prompt": prompt,
        "base_id": BASE_PROJECTS_ID,
        "base_name": "Emulator Projects",
        "model": MODEL,
        "cron": "0 9 * * 1",
        "timezone": "Europe/Paris",
        "email_answer": False,
    }
    values.update(changes)
    return ScheduleFields(**values)  # type: ignore[arg-type]


@pytest.fixture
def schedule_id(app_database: Engine, connected: int) -> int:
    """A weekly schedule of the connected user."""
    with Session(app_database, expire_on_commit=False) as session:
        schedule = service.create_schedule(session=session, user_id=connected, fields=fields())
        session.commit()
        assert schedule.id is not None
        return schedule.id
