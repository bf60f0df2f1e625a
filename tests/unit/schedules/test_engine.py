"""The engine (DBOS on the app's SQLite database): ticks fire runs, and survive a restart.

A seconds-level cron (allowed here by SCHEDULE_SECONDS_ALLOWED) makes ticks come every
two seconds; the runs go through the real turn with the scripted LLM and the emulator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID
from pyairtable_ui.llm.loading import litellm_module
from pyairtable_ui.schedules import engine, flows
from pyairtable_ui.schedules.models import RunStatus, Schedule, ScheduleRun
from tests.fakes.llm import Reply, ScriptedLLM
from tests.unit.schedules.conftest import MODEL

EVERY_2_SECONDS = "*/2 * * * * *"


@pytest.fixture
def running_engine(connected: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """The engine launched on the test database; calling the fixture's value restarts it."""
    monkeypatch.setenv("SCHEDULE_POLL_SECONDS", "0.2")
    monkeypatch.setenv("SCHEDULE_SECONDS_ALLOWED", "true")
    get_settings.cache_clear()
    litellm_module()  # its first import takes seconds: not in the first tick's time
    engine.launch()

    def restart() -> None:
        engine.shutdown()
        engine.launch()

    yield restart
    engine.shutdown()


def form(prompt: str = "How many tasks are open?", **changes: object) -> flows.ScheduleForm:
    values: dict[str, object] = {
        "name": "Open tasks",
        "prompt": prompt,
        "base_id": BASE_PROJECTS_ID,
        "base_name": "Emulator Projects",
        "model": MODEL,
        "kind": "cron",
        "at": "",
        "weekday": "",
        "cron": EVERY_2_SECONDS,
        "timezone": "Europe/Paris",
        "email_answer": False,
    }
    values.update(changes)
    return flows.ScheduleForm(**values)  # type: ignore[arg-type]


def runs_of(db: Engine, schedule_id: int) -> list[ScheduleRun]:
    with Session(db) as session:
        return list(
            session.exec(
                select(ScheduleRun)
                .where(ScheduleRun.schedule_id == schedule_id)
                .order_by(ScheduleRun.id)  # type: ignore[arg-type]
            )
        )


def wait_for_runs(
    db: Engine, schedule_id: int, count: int, timeout: float = 30
) -> list[ScheduleRun]:
    """The schedule's runs once `count` of them have finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [r for r in runs_of(db, schedule_id) if r.status != RunStatus.RUNNING.value]
        if len(done) >= count:
            return done
        time.sleep(0.2)
    raise AssertionError(f"{count} run(s) did not finish in {timeout}s: {runs_of(db, schedule_id)}")


def wait_until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s")
        time.sleep(0.2)


def test_ticks_run_the_prompt_and_the_schedule_survives_a_restart(
    app_database: Engine,
    connected: int,
    scripted_llm: ScriptedLLM,
    running_engine: Callable[[], None],
) -> None:
    scripted_llm.queue(Reply("Three tasks are open.", repeat=80))
    item = flows.create_schedule(connected, form())

    wait_for_runs(app_database, item["id"], 1)
    running_engine()  # the process stops (runs in flight included) and starts again
    restarted_at = time.time()
    wait_until(
        lambda: any(
            r.started_at.timestamp() >= restarted_at and r.status != RunStatus.RUNNING.value
            for r in runs_of(app_database, item["id"])
        )
    )
    flows.pause_schedule(connected, item["id"])
    # Runs the restart interrupted resume from their last finished step and end too.
    wait_until(
        lambda: all(r.status != RunStatus.RUNNING.value for r in runs_of(app_database, item["id"]))
    )

    runs = runs_of(app_database, item["id"])
    assert [r.status for r in runs] == [RunStatus.ANSWERED.value] * len(runs)
    assert all(r.answer == "Three tasks are open." for r in runs)
    assert len({r.workflow_id for r in runs}) == len(runs), "one run per tick"
    assert len({r.scheduled_for for r in runs}) == len(runs)
    assert all(r.scheduled_for.second % 2 == 0 for r in runs)


def test_pause_stops_the_ticks_run_now_still_runs_and_delete_removes_the_timer(
    app_database: Engine,
    connected: int,
    scripted_llm: ScriptedLLM,
    running_engine: Callable[[], None],
) -> None:
    scripted_llm.queue(Reply("Answered.", repeat=50))
    item = flows.create_schedule(connected, form())
    wait_for_runs(app_database, item["id"], 1)

    paused = flows.pause_schedule(connected, item["id"])
    assert paused["paused"] and paused["next_run"] == ""
    time.sleep(0.5)  # a tick already queued when it was paused may still finish
    settled = len(runs_of(app_database, item["id"]))
    time.sleep(4.5)  # two ticks' worth
    assert len(runs_of(app_database, item["id"])) == settled, "a paused schedule does not fire"

    flows.run_now(connected, item["id"])
    [*_, manual] = wait_for_runs(app_database, item["id"], settled + 1)
    assert manual.manual and manual.status == RunStatus.ANSWERED.value

    flows.delete_schedule(connected, item["id"])
    from dbos import DBOS

    assert DBOS.get_schedule(f"prompt-{item['id']}") is None
    assert runs_of(app_database, item["id"]) == []


def test_reconcile_puts_back_a_missing_timer_and_drops_an_orphan(
    app_database: Engine, connected: int, running_engine: Callable[[], None]
) -> None:
    item = flows.create_schedule(connected, form(cron="0 9 * * 1", kind="cron"))
    from dbos import DBOS

    DBOS.delete_schedule(f"prompt-{item['id']}")
    # A timer whose schedule row is gone (its delete failed half-way, say).
    engine.put(
        Schedule(
            id=999999,
            user_id=connected,
            name="gone",
            prompt="?",
            base_id="app",
            model=MODEL,
            cron="0 9 * * 1",
        )
    )

    assert flows.reconcile_timers() == 2
    names = {s["schedule_name"] for s in DBOS.list_schedules()}
    assert f"prompt-{item['id']}" in names and "prompt-999999" not in names
    timer = DBOS.get_schedule(f"prompt-{item['id']}")
    assert timer is not None and timer["cron_timezone"] == "Europe/Paris"
