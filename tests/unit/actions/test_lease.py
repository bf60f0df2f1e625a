"""A write in progress holds a lease: no other process recovers, resumes or rolls it back.

Issue 9 item 12: the heartbeat was bumped only when a batch started, so one slow
Airtable request let another replica mark the live action interrupted and send
the in-flight batch again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa

from pyairtable_ui.actions import steps
from pyairtable_ui.actions.base import ActionStateError
from pyairtable_ui.actions.execution import (
    execute_action,
    resume_action,
    rollback_action,
)
from pyairtable_ui.actions.models import Action, ActionStatus
from pyairtable_ui.actions.recovery import mark_interrupted
from pyairtable_ui.actions.steps import LeaseLostError
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.emulator.seeds import TABLE_ITEMS_ID
from tests.unit.actions.helpers import load, records_plan, table_records, writes
from tests.unit.actions.test_recovery import PROJECT_ROOT, approved

ELSEWHERE = "other-replica/4242/0123456789ab"


def new_rows(count: int) -> dict:
    return records_plan(
        "create",
        [{"op": "create", "fields": {"Name": f"Leased {n}", "Index": n}} for n in range(count)],
    )


def set_action(session_factory, action_id: int, **values) -> None:
    with session_factory() as session:
        session.exec(sa.update(Action).where(Action.id == action_id).values(**values))


def leased_elsewhere(seconds: float) -> dict:
    return {"lease_owner": ELSEWHERE, "lease_expires_at": utcnow() + timedelta(seconds=seconds)}


# --- the rules --------------------------------------------------------------------------------


def test_a_live_lease_of_another_process_keeps_recovery_away(
    items_emulator, make_client, session_factory, user_id
) -> None:
    action_id = approved(session_factory, user_id, make_client(items_emulator), new_rows(10))
    old = utcnow() - timedelta(minutes=10)
    set_action(
        session_factory,
        action_id,
        status=ActionStatus.RUNNING.value,
        updated_at=old,
        **leased_elsewhere(60),
    )

    with session_factory() as session:
        assert mark_interrupted(session=session, older_than=timedelta(seconds=5)) == []
    assert load(session_factory, action_id).status == ActionStatus.RUNNING

    # Once the lease has run out (the process died), the action is recovered.
    set_action(session_factory, action_id, lease_expires_at=utcnow() - timedelta(seconds=1))
    with session_factory() as session:
        marked = mark_interrupted(session=session, older_than=timedelta(seconds=5))
    assert [a.id for a in marked] == [action_id]
    action = load(session_factory, action_id)
    assert action.status == ActionStatus.INTERRUPTED
    assert action.lease_owner is None


@pytest.mark.parametrize("recover", [resume_action, rollback_action])
def test_resume_and_roll_back_refuse_while_another_process_holds_the_lease(
    recover, items_emulator, make_client, session_factory, user_id
) -> None:
    client = make_client(items_emulator)
    action_id = approved(session_factory, user_id, client, new_rows(10))
    set_action(session_factory, action_id, status=ActionStatus.FAILED.value, **leased_elsewhere(60))

    with pytest.raises(ActionStateError, match="still running in another process"):
        recover(
            session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
        )
    assert writes(items_emulator) == []


def test_a_run_that_lost_its_lease_stops_before_its_next_batch(
    items_emulator, make_client, session_factory, user_id
) -> None:
    client = make_client(items_emulator)
    action_id = approved(session_factory, user_id, client, new_rows(30))

    def taken_over(kind: str, seq: int, moment: str) -> None:
        # Batch 1 answered late: meanwhile another process found the lease expired and took over.
        if (kind, seq, moment) == ("apply", 1, "after_response"):
            set_action(session_factory, action_id, **leased_elsewhere(60))

    with pytest.raises(LeaseLostError):
        execute_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=action_id,
            client=client,
            step_hook=taken_over,
        )

    assert len(writes(items_emulator, "POST")) == 1
    action = load(session_factory, action_id)
    # Left to the process that holds it: not marked failed by the one that lost it.
    assert action.status == ActionStatus.RUNNING
    assert action.lease_owner == ELSEWHERE


def test_finishing_gives_the_lease_back(
    items_emulator, make_client, session_factory, user_id
) -> None:
    client = make_client(items_emulator)
    action_id = approved(session_factory, user_id, client, new_rows(10))
    execute_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    action = load(session_factory, action_id)
    assert action.status == ActionStatus.DONE
    assert action.lease_owner is None and action.lease_expires_at is None


def test_the_lease_is_renewed_while_a_slow_request_is_in_flight(
    items_emulator, make_client, session_factory, user_id, monkeypatch
) -> None:
    monkeypatch.setattr(steps, "lease_duration", lambda: timedelta(seconds=0.6))
    client = make_client(items_emulator)
    action_id = approved(session_factory, user_id, client, new_rows(10))
    items_emulator.inject_failure(method="POST", path_contains=TABLE_ITEMS_ID, status=None, delay=2)
    expiries = []

    def watch(kind: str, seq: int, moment: str) -> None:
        if moment == "after_response":
            expiries.append(load(session_factory, action_id).lease_expires_at)

    started = utcnow()
    execute_action(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=client,
        step_hook=watch,
    )
    # Taken at start for 0.6 s; still pushed forward while the request took 2 s.
    assert expiries[0] > started + timedelta(seconds=1.5)


# --- two processes --------------------------------------------------------------------------


def _fired(emulator) -> int:
    answer = requests.get(f"{emulator.url}/_emulator/fail", timeout=5).json()
    return sum(int(i["fired"]) for i in answer["failures"])


def test_another_process_neither_recovers_nor_resumes_a_run_whose_request_is_slow(
    items_emulator, make_client, migrated_engine, session_factory, user_id
) -> None:
    client = make_client(items_emulator)
    action_id = approved(session_factory, user_id, client, new_rows(30))
    # Airtable takes 4 s over batch 2, four times the worker's heartbeat.
    items_emulator.inject_failure(
        method="POST", path_contains=TABLE_ITEMS_ID, after=1, status=None, delay=4.0
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
        env={**os.environ, "ACTION_HEARTBEAT_SECONDS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while _fired(items_emulator) < 1:
            assert worker.poll() is None, worker.stdout.read().decode() if worker.stdout else ""
            assert time.monotonic() < deadline, "the worker never reached batch 2"
            time.sleep(0.05)
        time.sleep(2)  # the last step is now twice the heartbeat old

        with session_factory() as session:
            assert mark_interrupted(session=session, older_than=timedelta(seconds=1)) == []
        assert load(session_factory, action_id).status == ActionStatus.RUNNING
        with pytest.raises(ActionStateError):
            resume_action(
                session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
            )
        assert worker.wait(timeout=30) == 0, worker.stdout.read().decode() if worker.stdout else ""
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    assert load(session_factory, action_id).status == ActionStatus.DONE
    assert len(writes(items_emulator, "POST")) == 3  # no batch sent twice
    names = [f.get("Name") for f in table_records(items_emulator, TABLE_ITEMS_ID).values()]
    assert sorted(n for n in names if str(n).startswith("Leased ")) == sorted(
        f"Leased {n}" for n in range(30)
    )
