"""Fixtures for the chat tests: the scripted LLM, a small fake base of tools, users.

The agent runs against the scripted LLM over real HTTP (litellm's own client code);
the tools are a real async implementation over an in-memory table, not mocks.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

# Before anything imports litellm (the tests below do): no cost map download.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from pyairtable_ui.airtable.schema import get_schema_cache
from pyairtable_ui.auth.models import User
from pyairtable_ui.chat.agent import AgentEvent, ToolOutcome
from pyairtable_ui.core.db import get_engine
from pyairtable_ui.core.settings import get_settings
from tests.fakes.airtable_fixtures import airtable_emulator
from tests.fakes.llm.fixtures import scripted_llm

__all__ = ["airtable_emulator", "scripted_llm"]

API_KEY = "sk-test-unit-secret-7f3a9c"

TASKS = {
    "rec1": {"Name": "Write spec", "Status": "Todo", "Owner": "Ana"},
    "rec2": {"Name": "Review budget", "Status": "Done", "Owner": "Ben"},
    "rec3": {"Name": "Ship beta", "Status": "Todo", "Owner": "Ana"},
}


def _function(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties},
        },
    }


class FakeBaseTools:
    """A ToolExecutor over one in-memory "Tasks" table, shaped like the real registry.

    Unknown names and invalid JSON come back as error text for the model, as the
    real registry does. Each read counts as one Airtable call.
    """

    def __init__(self, *, slow_seconds: float = 30.0) -> None:
        self.records = {rid: dict(fields) for rid, fields in TASKS.items()}
        self.received: list[tuple[str, str, str]] = []
        self.slow_seconds = slow_seconds
        self.slow_started = asyncio.Event()
        self.slow_cancelled = False
        self._airtable_calls = 0

    def schemas(self) -> list[dict[str, Any]]:
        return [
            _function(
                "list_records", "List tasks, optionally by status.", {"status": {"type": "string"}}
            ),
            _function("get_record", "Get one task.", {"record_id": {"type": "string"}}),
            _function("slow_search", "A search that takes long.", {}),
            _function("broken_tool", "A tool with a bug.", {}),
        ]

    def airtable_calls(self) -> int:
        return self._airtable_calls

    async def call(self, name: str, raw_arguments: str, call_id: str) -> ToolOutcome:
        self.received.append((name, raw_arguments, call_id))
        handlers = {
            "list_records": self._list_records,
            "get_record": self._get_record,
            "slow_search": self._slow_search,
            "broken_tool": self._broken_tool,
        }
        handler = handlers.get(name)
        if handler is None:
            return ToolOutcome(
                content=f"Unknown tool {name!r}. Available tools: {', '.join(handlers)}.",
                is_error=True,
            )
        try:
            arguments = json.loads(raw_arguments)
        except json.JSONDecodeError as exc:
            return ToolOutcome(
                content=f"The arguments are not valid JSON ({exc.msg}). Send one JSON object.",
                is_error=True,
            )
        return await handler(**arguments)

    async def _list_records(self, status: str | None = None) -> ToolOutcome:
        await asyncio.sleep(0.01)
        self._airtable_calls += 1
        rows = [
            {"id": rid, **fields}
            for rid, fields in self.records.items()
            if status is None or fields["Status"] == status
        ]
        return ToolOutcome(
            content=json.dumps({"records": rows, "more": False}),
            display={"summary": f"{len(rows)} tasks"},
        )

    async def _get_record(self, record_id: str) -> ToolOutcome:
        await asyncio.sleep(0.01)
        self._airtable_calls += 1
        if record_id not in self.records:
            return ToolOutcome(content=f"No record {record_id} in Tasks.", is_error=True)
        return ToolOutcome(content=json.dumps({"id": record_id, **self.records[record_id]}))

    async def _slow_search(self) -> ToolOutcome:
        self.slow_started.set()
        try:
            await asyncio.sleep(self.slow_seconds)
        except asyncio.CancelledError:
            self.slow_cancelled = True
            raise
        return ToolOutcome(content="slow result")

    async def _broken_tool(self) -> ToolOutcome:
        raise RuntimeError("bug in a tool")


class EventLog:
    """An `on_event` handler that keeps every event, and can wake a test on one."""

    def __init__(self) -> None:
        self.events: list[AgentEvent] = []
        self._waiters: list[tuple[type, asyncio.Event]] = []

    async def __call__(self, event: AgentEvent) -> None:
        self.events.append(event)
        for kind, flag in self._waiters:
            if isinstance(event, kind):
                flag.set()

    def of(self, kind: type) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]

    def flag_on(self, kind: type) -> asyncio.Event:
        flag = asyncio.Event()
        self._waiters.append((kind, flag))
        return flag


_LOOPBACK = {"127.0.0.1", "::1", "localhost", "0.0.0.0", "::"}
_outside: list[tuple[str, str]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Note any attempt to resolve or reach a host that is not loopback."""
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event == "socket.connect" and isinstance(args[1], tuple):
        host = args[1][0]
    else:
        return
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if isinstance(host, str) and host not in _LOOPBACK:
        _outside.append((event, host))


# Audit hooks cannot be removed, so install it once per process; it only records.
if not getattr(sys, "_chat_tests_audit_installed", False):
    sys.addaudithook(_audit)
    sys._chat_tests_audit_installed = True  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def no_network_beyond_loopback() -> Iterator[None]:
    """Fail a test whose code (litellm included) tried to reach the internet."""
    before = len(_outside)
    yield
    assert _outside[before:] == [], "something tried to reach the network"


@pytest.fixture
def tools() -> FakeBaseTools:
    """A fresh fake base of tasks."""
    return FakeBaseTools()


@pytest.fixture
def events() -> EventLog:
    """Collects the agent's events."""
    return EventLog()


@pytest.fixture
def app_database(migrated_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The app's own `session_scope()` (and settings) on the test database, no Redis."""
    monkeypatch.setenv("DATABASE_URL", migrated_engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    get_engine.cache_clear()
    get_schema_cache.cache_clear()
    yield migrated_engine
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()
    get_schema_cache.cache_clear()


@pytest.fixture
def db(migrated_engine: Engine) -> Iterator[Session]:
    """A session on a freshly migrated database (SQLite or PostgreSQL by test pass)."""
    with Session(migrated_engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def session_factory(migrated_engine: Engine):
    """Committing sessions on the test database, shaped like `db.session_scope`."""

    @contextmanager
    def factory() -> Iterator[Session]:
        with Session(migrated_engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except Exception:
                session.rollback()
                raise

    return factory


def make_user(session: Session, email: str) -> int:
    """A user row to own conversations; returns its id."""
    user = User(email=email, display_name=email.split("@")[0])
    session.add(user)
    session.commit()
    assert user.id is not None
    return user.id


@pytest.fixture
def ana(db: Session) -> int:
    return make_user(db, "ana@example.com")


@pytest.fixture
def ben(db: Session) -> int:
    return make_user(db, "ben@example.com")
