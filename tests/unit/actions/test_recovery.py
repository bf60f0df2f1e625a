"""A server killed mid-action: the log stays true, and resume or roll back lose nothing.

Two ways to stop a run exactly where a crash would: a step hook raising a
`BaseException` (it skips every `except Exception`, like a killed process), and
a real worker process killed with SIGKILL while Airtable is answering a batch.
Recovery then runs on a fresh engine, as a restarted server would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from pyairtable_ui.actions.approval import approve_action
from pyairtable_ui.actions.base import ActionStateError
from pyairtable_ui.actions.execution import (
    execute_action,
    resume_action,
    rollback_action,
)
from pyairtable_ui.actions.models import Action, ActionStatus, StepKind, StepStatus, UndoStatus
from pyairtable_ui.actions.preview import build_preview
from pyairtable_ui.actions.recovery import find_interrupted_actions, mark_interrupted
from pyairtable_ui.actions.steps import live
from pyairtable_ui.actions.undo import undo_action
from pyairtable_ui.core.db import session_factory_for
from pyairtable_ui.emulator.seeds import TABLE_ITEMS_ID
from tests.unit.actions.helpers import (
    SimulatedCrash,
    fresh_engine,
    item_id,
    load,
    propose,
    records_plan,
    rename_items_plan,
    steps_of,
    table_records,
    writes,
)

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def crash_at(kind: str, seq: int, moment: str):
    def hook(step_kind: str, step_seq: int, step_moment: str) -> None:
        if (step_kind, step_seq, step_moment) == (kind, seq, moment):
            raise SimulatedCrash(f"killed at {kind} {seq} {moment}")

    return hook


def approved(session_factory, user_id, client, plan) -> int:
    count = len(plan["operations"])
    action_id = propose(session_factory, user_id, plan, typed=count > 20)
    build_preview(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    with session_factory() as session:
        approve_action(
            session=session,
            user_id=user_id,
            action_id=action_id,
            approved_row_ids=None,
            typed_count=str(count),
            threshold=20,
        )
    return action_id


def restart(migrated_engine):
    """What the app does at start-up, on a new engine: mark orphaned runs interrupted."""
    factory = session_factory_for(fresh_engine(migrated_engine))
    with factory() as session:
        marked = [a.id for a in mark_interrupted(session=session)]
    return factory, marked


def new_items(count: int) -> dict:
    return records_plan(
        "create",
        [{"op": "create", "fields": {"Name": f"New {n}", "Index": 500 + n}} for n in range(count)],
    )


def test_crash_after_airtable_applied_a_batch_then_resume_creates_nothing_twice(
    items_emulator, make_client, migrated_engine, session_factory, user_id
):
    client = make_client(items_emulator)
    action_id = approved(session_factory, user_id, client, new_items(30))
    with pytest.raises(SimulatedCrash):
        execute_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=action_id,
            client=client,
            step_hook=crash_at("apply", 2, "after_response"),
        )
    # The log is true: batch 2 reached Airtable but was never marked done.
    assert load(session_factory, action_id).status == ActionStatus.RUNNING
    assert [s.status for s in steps_of(session_factory, user_id, action_id)] == ["done", "pending"]
    assert len(table_records(items_emulator, TABLE_ITEMS_ID)) == 60

    factory, marked = restart(migrated_engine)
    assert marked == [action_id]
    interrupted = load(factory, action_id)
    assert interrupted.status == ActionStatus.INTERRUPTED
    assert "1 of 3 batches done" in interrupted.error
    assert "Batch 2 was being sent" in interrupted.error

    resumed = resume_action(
        session_factory=factory, user_id=user_id, action_id=action_id, client=client
    )

    assert resumed.status == ActionStatus.DONE
    assert len(table_records(items_emulator, TABLE_ITEMS_ID)) == 70  # 30 new, none twice
    assert len(writes(items_emulator, "POST")) == 3
    steps = steps_of(factory, user_id, action_id)
    assert [s.status for s in steps] == ["done"] * 3
    assert "Found applied in Airtable" in steps[1].error
    assert len(steps[1].record_ids) == 10


def test_crash_then_rollback_leaves_airtable_as_before(
    items_emulator, make_client, migrated_engine, session_factory, user_id
):
    client = make_client(items_emulator)
    before = table_records(items_emulator, TABLE_ITEMS_ID)
    action_id = approved(session_factory, user_id, client, new_items(30))
    with pytest.raises(SimulatedCrash):
        execute_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=action_id,
            client=client,
            step_hook=crash_at("apply", 2, "after_response"),
        )
    factory, _ = restart(migrated_engine)

    rolled = rollback_action(
        session_factory=factory, user_id=user_id, action_id=action_id, client=client
    )

    assert rolled.status == ActionStatus.ROLLED_BACK
    assert table_records(items_emulator, TABLE_ITEMS_ID) == before
    compensations = [s for s in steps_of(factory, user_id, action_id) if s.kind == "compensate"]
    assert [len(s.record_ids) for s in compensations] == [10, 10]


def test_crash_before_a_batch_was_sent_then_resume_sends_it_once(
    items_emulator, make_client, migrated_engine, session_factory, user_id
):
    client = make_client(items_emulator)
    action_id = approved(session_factory, user_id, client, rename_items_plan(range(1, 31)))
    with pytest.raises(SimulatedCrash):
        execute_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=action_id,
            client=client,
            step_hook=crash_at("apply", 2, "before_request"),
        )
    factory, _ = restart(migrated_engine)
    resume_action(session_factory=factory, user_id=user_id, action_id=action_id, client=client)
    assert len(writes(items_emulator, "PATCH")) == 3
    names = table_records(items_emulator, TABLE_ITEMS_ID)
    assert all(names[item_id(n)]["Name"] == f"Renamed {n}" for n in range(1, 31))


def test_a_rollback_interrupted_by_a_restart_is_finished_by_rolling_back_again(
    items_emulator, make_client, migrated_engine, session_factory, user_id
):
    client = make_client(items_emulator)
    before = table_records(items_emulator, TABLE_ITEMS_ID)
    action_id = approved(session_factory, user_id, client, rename_items_plan(range(1, 41)))
    items_emulator.inject_failure(method="PATCH", path_contains=TABLE_ITEMS_ID, after=3, status=422)
    execute_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    with pytest.raises(SimulatedCrash):
        rollback_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=action_id,
            client=client,
            step_hook=crash_at("compensate", 2, "after_response"),
        )
    factory, marked = restart(migrated_engine)
    assert marked == [action_id]
    assert "while rolling back" in load(factory, action_id).error
    with pytest.raises(ActionStateError, match="roll it back again"):
        resume_action(session_factory=factory, user_id=user_id, action_id=action_id, client=client)

    rolled = rollback_action(
        session_factory=factory, user_id=user_id, action_id=action_id, client=client
    )

    assert rolled.status == ActionStatus.ROLLED_BACK
    assert table_records(items_emulator, TABLE_ITEMS_ID) == before
    compensations = [s for s in steps_of(factory, user_id, action_id) if s.kind == "compensate"]
    # Batch 3, then batch 2 (found applied after the crash), then batch 1: none twice.
    assert [s.status for s in compensations] == ["done"] * 3
    assert len(writes(items_emulator, "PATCH")) == 4 + 3


def test_an_undo_interrupted_by_a_restart_is_finished_by_resume(
    items_emulator, make_client, migrated_engine, session_factory, user_id
):
    client = make_client(items_emulator)
    before = table_records(items_emulator, TABLE_ITEMS_ID)
    action_id = approved(session_factory, user_id, client, rename_items_plan(range(1, 26)))
    execute_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    with pytest.raises(SimulatedCrash):
        undo_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=action_id,
            client=client,
            step_hook=crash_at("undo", 1, "after_response"),
        )
    factory, _ = restart(migrated_engine)
    assert load(factory, action_id).status == ActionStatus.INTERRUPTED
    with pytest.raises(ActionStateError, match="resume to finish the undo"):
        rollback_action(
            session_factory=factory, user_id=user_id, action_id=action_id, client=client
        )

    # The restored batch reads back as "changed since", but it is ours: no conflict is raised.
    finished = resume_action(
        session_factory=factory, user_id=user_id, action_id=action_id, client=client
    )

    assert (finished.status, finished.undo_status) == (ActionStatus.UNDONE, UndoStatus.DONE)
    assert table_records(items_emulator, TABLE_ITEMS_ID) == before
    undo_steps = [s for s in steps_of(factory, user_id, action_id) if s.kind == StepKind.UNDO]
    assert [len(s.record_ids) for s in undo_steps] == [10, 10, 5]


def test_recovery_leaves_live_and_recently_active_runs_alone(
    items_emulator, make_client, session_factory, user_id
):
    client = make_client(items_emulator)
    action_id = approved(session_factory, user_id, client, rename_items_plan([1]))
    with pytest.raises(SimulatedCrash):
        execute_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=action_id,
            client=client,
            step_hook=crash_at("apply", 1, "before_request"),
        )
    with session_factory() as session:
        # Another replica's run, touched a moment ago: not ours to judge.
        assert find_interrupted_actions(session=session, older_than=timedelta(minutes=2)) == []
        with live(action_id):  # this process is still running it
            assert find_interrupted_actions(session=session) == []
        assert [a.id for a in find_interrupted_actions(session=session)] == [action_id]
        action = session.get(Action, action_id)
        action.updated_at = action.updated_at - timedelta(minutes=10)  # silent for 10 minutes
        session.add(action)
        session.flush()
        found = find_interrupted_actions(session=session, older_than=timedelta(minutes=2))
        assert [a.id for a in found] == [action_id]


def test_an_undo_interrupted_before_its_first_request_is_checked_and_finished(
    items_emulator, make_client, session_factory, user_id
):
    client = make_client(items_emulator)
    action_id = approved(session_factory, user_id, client, rename_items_plan([1, 2]))
    execute_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    with pytest.raises(SimulatedCrash):
        undo_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=action_id,
            client=client,
            step_hook=crash_at("undo", 1, "before_request"),
        )
    # The undo step was written PENDING but never sent.
    with session_factory() as session:
        (marked,) = mark_interrupted(session=session)
    assert marked.status == ActionStatus.INTERRUPTED
    assert steps_of(session_factory, user_id, action_id)[-1].status == StepStatus.PENDING
    undone = resume_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    assert undone.status == ActionStatus.UNDONE
    assert table_records(items_emulator, TABLE_ITEMS_ID)[item_id(1)]["Name"] == "Item 0001"
    assert len(writes(items_emulator, "PATCH")) == 2  # the run, then the undo once


def test_an_undo_that_wrote_no_step_goes_back_to_done_on_restart(
    items_emulator, make_client, session_factory, user_id
):
    client = make_client(items_emulator)
    action_id = approved(session_factory, user_id, client, rename_items_plan([1]))
    execute_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    with session_factory() as session:  # killed while the undo was still reading Airtable
        action = session.get(Action, action_id)
        action.status = ActionStatus.UNDOING.value
        session.add(action)
    with session_factory() as session:
        (marked,) = mark_interrupted(session=session)
    assert (marked.status, marked.undo_status) == (ActionStatus.DONE, UndoStatus.AVAILABLE)
    assert "before it changed anything" in marked.error


def _fired(emulator) -> int:
    answer = requests.get(f"{emulator.url}/_emulator/fail", timeout=5).json()
    return sum(int(i["fired"]) for i in answer["failures"])


def test_worker_process_killed_mid_batch_then_resumed_on_restart(
    items_emulator, make_client, migrated_engine, session_factory, user_id
):
    client = make_client(items_emulator)
    action_id = approved(session_factory, user_id, client, rename_items_plan(range(1, 41)))
    # Airtable takes two seconds over batch 3: the worker is killed while it waits.
    items_emulator.inject_failure(
        method="PATCH", path_contains=TABLE_ITEMS_ID, after=2, status=None, delay=2.0
    )
    database_url = migrated_engine.url.render_as_string(hide_password=False)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.unit.actions.worker",
            database_url,
            str(user_id),
            str(action_id),
            items_emulator.url,
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while _fired(items_emulator) < 1:
            assert worker.poll() is None, worker.stdout.read().decode() if worker.stdout else ""
            assert time.monotonic() < deadline, "the worker never reached batch 3"
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL
    # Airtable finishes the request the dead worker sent: batch 3 is applied.
    deadline = time.monotonic() + 10
    while table_records(items_emulator, TABLE_ITEMS_ID)[item_id(21)]["Name"] != "Renamed 21":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    steps = steps_of(session_factory, user_id, action_id)
    assert [s.status for s in steps] == ["done", "done", "pending"]

    factory, marked = restart(migrated_engine)
    assert marked == [action_id]
    assert "2 of 4 batches done" in load(factory, action_id).error
    resumed = resume_action(
        session_factory=factory, user_id=user_id, action_id=action_id, client=client
    )

    assert resumed.status == ActionStatus.DONE
    assert len(writes(items_emulator, "PATCH")) == 4  # batch 3 was not sent again
    names = table_records(items_emulator, TABLE_ITEMS_ID)
    assert all(names[item_id(n)]["Name"] == f"Renamed {n}" for n in range(1, 41))
    assert "Found applied" in steps_of(factory, user_id, action_id)[2].error
