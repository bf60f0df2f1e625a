"""Two app processes on one PostgreSQL database: every tick of a schedule runs once.

Each process launches the engine (as each backend worker and replica does); a
seconds-level schedule ticks every 2 s for a while; each process notes the runs it
answered. Every tick must have been answered exactly once, by one of them.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlmodel import Session, select

from pyairtable_ui.core import migrations
from pyairtable_ui.core.db import make_engine
from pyairtable_ui.schedules import service
from pyairtable_ui.schedules.models import RunStatus, ScheduleRun
from tests.unit.chat.conftest import make_user
from tests.unit.schedules.conftest import fields

pytestmark = pytest.mark.postgres

SERVER = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
ROOT = Path(__file__).resolve().parents[3]
RUN_SECONDS = 14


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, migrated PostgreSQL database, dropped afterwards."""
    server = SERVER.replace("postgresql+psycopg://", "postgresql://")
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=2)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {server} does not answer ({exc})")
    name = f"pui_sched_{secrets.token_hex(5)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{server.rpartition('/')[0]}/{name}"
    db = make_engine(url)
    migrations.upgrade_to_head(db)
    db.dispose()
    yield url
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_processes_on_postgresql_run_each_tick_exactly_once(
    postgres_url: str, tmp_path: Path
) -> None:
    db = make_engine(postgres_url)
    with Session(db, expire_on_commit=False) as session:
        user_id = make_user(session, "pat@example.com")
        schedule = service.create_schedule(
            session=session, user_id=user_id, fields=fields(cron="*/2 * * * * *")
        )
        session.commit()
    notes = tmp_path / "answered.txt"
    env = {
        **os.environ,
        "DATABASE_URL": postgres_url,
        "SCHEDULE_POLL_SECONDS": "0.5",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("REDIS_URL", None)
    command = [sys.executable, "-m", "tests.unit.schedules.engine_process", str(notes)]
    first = subprocess.Popen([*command, str(RUN_SECONDS), str(schedule.id)], env=env, cwd=ROOT)
    second = subprocess.Popen([*command, str(RUN_SECONDS)], env=env, cwd=ROOT)
    assert first.wait(timeout=120) == 0
    assert second.wait(timeout=120) == 0

    answered = [line.split() for line in notes.read_text().splitlines()]
    with Session(db) as session:
        runs = list(session.exec(select(ScheduleRun)))
    db.dispose()
    run_ids = [int(run_id) for _, run_id in answered]
    assert len(runs) >= 3, "the schedule ticked several times"
    finished = {r.id for r in runs if r.status != RunStatus.RUNNING.value}
    # A run the stop cut short may be noted but not yet recorded: never the other way.
    assert finished <= set(run_ids) <= {r.id for r in runs}
    assert len(run_ids) == len(set(run_ids)), "no tick answered twice"
    assert len({r.scheduled_for for r in runs}) == len(runs), "one run per tick"
    print(f"{len(runs)} ticks; answered by processes {sorted({pid for pid, _ in answered})}")
