"""Execution in batches with progress; a failure midway; rollback and resume; pacing."""

from __future__ import annotations

import json

import pytest

from pyairtable_ui.actions.approval import approve_action
from pyairtable_ui.actions.base import ActionNotFoundError, ActionStateError
from pyairtable_ui.actions.execution import execute_action, resume_action, rollback_action
from pyairtable_ui.actions.models import ActionStatus, StepKind, StepStatus, UndoStatus
from pyairtable_ui.actions.preview import build_preview
from pyairtable_ui.actions.undo import plan_undo, undo_action
from pyairtable_ui.airtable import aggregate_cache as aggregate_cache_module
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.limiter import InProcessRequestPacer
from pyairtable_ui.emulator import build_seed
from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TABLE_ITEMS_ID, TOKEN_FULL
from tests.unit.actions.helpers import (
    item_id,
    load,
    propose,
    records_plan,
    rename_items_plan,
    steps_of,
    table_records,
    writes,
)
from tests.unit.airtable.conftest import FAST_RETRIES


def approved(session_factory, user_id, client, plan, *, rows=None, typed=None) -> int:
    action_id = propose(session_factory, user_id, plan, typed=len(plan["operations"]) > 20)
    build_preview(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    with session_factory() as session:
        approve_action(
            session=session,
            user_id=user_id,
            action_id=action_id,
            approved_row_ids=rows,
            typed_count=typed,
            threshold=20,
        )
    return action_id


def test_update_35_untick_5_then_undo_restores_all_30(
    items_emulator, make_client, session_factory, user_id
):
    client = make_client(items_emulator)
    before = table_records(items_emulator, TABLE_ITEMS_ID)
    ticked = [item_id(n) for n in range(1, 36) if n not in (3, 9, 17, 26, 34)]
    action_id = approved(
        session_factory, user_id, client, rename_items_plan(range(1, 36)), rows=ticked, typed="30"
    )
    progress: list[tuple[int, int, int]] = []

    action = execute_action(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=client,
        on_progress=lambda *p: progress.append(p),
    )

    assert action.status == ActionStatus.DONE and action.undo_status == UndoStatus.AVAILABLE
    assert progress == [(0, 3, 0), (1, 3, 10), (2, 3, 20), (3, 3, 30)]
    after = table_records(items_emulator, TABLE_ITEMS_ID)
    changed = {rid for rid in after if after[rid] != before[rid]}
    assert changed == set(ticked)
    assert after[item_id(3)]["Name"] == "Item 0003"  # unticked: untouched
    assert len(writes(items_emulator, "PATCH")) == 3

    plan = plan_undo(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    assert plan["possible"] and plan["conflicts"] == 0 and len(plan["rows"]) == 30
    assert plan["message"].startswith("Undo restores the former values of 30 records")
    undone = undo_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    assert (undone.status, undone.undo_status) == (ActionStatus.UNDONE, UndoStatus.DONE)
    assert undone.undone_at is not None
    assert table_records(items_emulator, TABLE_ITEMS_ID) == before
    undo_steps = [s for s in steps_of(session_factory, user_id, action_id) if s.kind == "undo"]
    assert [len(s.record_ids) for s in undo_steps] == [10, 10, 10]
    assert all(s.status == StepStatus.DONE for s in undo_steps)


def test_a_failure_at_batch_three_then_rollback_leaves_airtable_as_before(
    items_emulator, make_client, session_factory, user_id
):
    client = make_client(items_emulator)
    before = table_records(items_emulator, TABLE_ITEMS_ID)
    action_id = approved(
        session_factory, user_id, client, rename_items_plan(range(1, 41)), typed="40"
    )
    items_emulator.inject_failure(method="PATCH", path_contains=TABLE_ITEMS_ID, after=2, status=422)

    failed = execute_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    assert failed.status == ActionStatus.FAILED
    assert "Batch 3 of 4 failed" in failed.error and "Batches 1-2 were applied" in failed.error
    assert "roll back" in failed.error

    rolled = rollback_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )

    assert rolled.status == ActionStatus.ROLLED_BACK
    assert table_records(items_emulator, TABLE_ITEMS_ID) == before
    steps = steps_of(session_factory, user_id, action_id)
    compensations = [s for s in steps if s.kind == StepKind.COMPENSATE]
    # Newest batch first, each written before it was sent and marked done after.
    assert [s.record_ids[0] for s in compensations] == [item_id(11), item_id(1)]
    assert all(s.status == StepStatus.DONE and s.started_at for s in compensations)
    assert compensations[0].before[0]["fields"]["Name"] == "Renamed 11"
    with pytest.raises(ActionStateError):
        resume_action(
            session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
        )


def test_a_failure_then_resume_sends_each_batch_once(
    items_emulator, make_client, session_factory, user_id
):
    client = make_client(items_emulator)
    action_id = approved(
        session_factory, user_id, client, rename_items_plan(range(1, 41)), typed="40"
    )
    items_emulator.inject_failure(method="PATCH", path_contains=TABLE_ITEMS_ID, after=2, status=422)
    failed = execute_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    assert failed.status == ActionStatus.FAILED
    progress: list[tuple[int, int, int]] = []

    resumed = resume_action(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=client,
        on_progress=lambda *p: progress.append(p),
    )

    assert resumed.status == ActionStatus.DONE and resumed.error is None
    assert progress[0] == (2, 4, 20) and progress[-1] == (4, 4, 40)
    names = table_records(items_emulator, TABLE_ITEMS_ID)
    assert all(names[item_id(n)]["Name"] == f"Renamed {n}" for n in range(1, 41))
    steps = steps_of(session_factory, user_id, action_id)
    assert [s.seq for s in steps] == [1, 2, 3, 4] and {s.status for s in steps} == {"done"}
    assert "Earlier attempt" in steps[2].error
    # Batch 3 was checked in Airtable (not applied), then sent again; 1, 2 and 4 once.
    assert [r["status"] for r in writes(items_emulator, "PATCH")] == [200, 200, 422, 200, 200]


def test_rollback_of_creates_deletes_them_and_of_deletes_recreates_them(
    items_emulator, make_client, session_factory, user_id
):
    client = make_client(items_emulator)
    before = table_records(items_emulator, TABLE_ITEMS_ID)
    create = records_plan(
        "create",
        [{"op": "create", "fields": {"Name": f"New {n}", "Index": 100 + n}} for n in range(25)],
    )
    created = approved(session_factory, user_id, client, create, typed="25")
    items_emulator.inject_failure(method="POST", path_contains=TABLE_ITEMS_ID, after=2, status=422)
    assert (
        execute_action(
            session_factory=session_factory, user_id=user_id, action_id=created, client=client
        ).status
        == ActionStatus.FAILED
    )
    assert len(table_records(items_emulator, TABLE_ITEMS_ID)) == 60
    rollback_action(
        session_factory=session_factory, user_id=user_id, action_id=created, client=client
    )
    assert table_records(items_emulator, TABLE_ITEMS_ID) == before

    delete = records_plan(
        "delete", [{"op": "delete", "record_id": item_id(n)} for n in range(1, 16)]
    )
    deleted = approved(session_factory, user_id, client, delete, typed="15")
    items_emulator.inject_failure(
        method="DELETE", path_contains=TABLE_ITEMS_ID, after=1, status=422
    )
    failed = execute_action(
        session_factory=session_factory, user_id=user_id, action_id=deleted, client=client
    )
    assert "Batch 1 was applied" in failed.error
    rolled = rollback_action(
        session_factory=session_factory, user_id=user_id, action_id=deleted, client=client
    )
    now = table_records(items_emulator, TABLE_ITEMS_ID)
    assert sorted(map(str, now.values())) == sorted(map(str, before.values()))
    assert rolled.status == ActionStatus.ROLLED_BACK
    assert item_id(1) not in now  # re-created, so under a new id


def test_other_users_cannot_run_roll_back_resume_or_undo(
    items_emulator, make_client, session_factory, user_id, other_user_id
):
    client = make_client(items_emulator)
    action_id = approved(session_factory, user_id, client, rename_items_plan([1, 2]))
    for run in (execute_action, resume_action, rollback_action, undo_action):
        with pytest.raises(ActionNotFoundError):
            run(
                session_factory=session_factory,
                user_id=other_user_id,
                action_id=action_id,
                client=client,
            )
    assert load(session_factory, action_id).status == ActionStatus.CONFIRMED
    assert writes(items_emulator) == []


def max_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_a_500_record_update_never_exceeds_5_requests_per_second(
    airtable_emulator_factory, session_factory, user_id
):
    emulator = airtable_emulator_factory(
        build_seed(big_table_records=500), rate_limit=5, penalty_seconds=1.0
    )
    # The real pacing: 5 requests per second per base, as in production.
    client = AirtableClient(
        TOKEN_FULL,
        api_url=emulator.url,
        limiter=InProcessRequestPacer(5),
        retry_policy=FAST_RETRIES,
    )
    action_id = approved(
        session_factory, user_id, client, rename_items_plan(range(1, 501)), typed="500"
    )
    emulator.reset_stats()
    import time

    started = time.monotonic()
    action = execute_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    seconds = time.monotonic() - started

    assert action.status == ActionStatus.DONE
    requests = [r for r in emulator.stats()["requests"] if r["base"] == BASE_PROJECTS_ID]
    assert emulator.stats()["by_status"].get("429") is None
    peak = max_in_any_second([r["t"] for r in requests])
    assert peak <= 5
    patches = [r for r in requests if r["method"] == "PATCH"]
    assert len(patches) == 50  # batches of 10
    print(
        f"\n500-record update: {len(requests)} requests ({len(patches)} writes) in "
        f"{seconds:.1f}s = {500 / seconds:.0f} records/s, peak {peak} requests in any second"
    )


async def test_pasted_rows_go_through_the_same_preview_approval_and_undo(
    items_emulator, make_client, make_ctx, registry, session_factory, user_id
):
    client = make_client(items_emulator)
    ctx = make_ctx(client, BASE_PROJECTS_ID, session_factory=session_factory, user_id=user_id)
    pasted = "\n".join(f"Pasted {n},{n},{'ABCD'[n % 4]}" for n in range(40))  # "add these 40 rows"
    rows = [line.split(",") for line in pasted.splitlines()]
    result = await registry.call(
        "create_records",
        {
            "table": "Items",
            "records": [
                {"fields": {"Name": name, "Index": int(index), "Group": group}}
                for name, index, group in rows
            ],
        },
        ctx,
    )
    assert not result.is_error, result.content
    preview = build_preview(
        session_factory=session_factory,
        user_id=user_id,
        action_id=result.action_id,
        client=client,
    )
    assert preview["counts"]["create"] == 40 and preview["rows"][0]["label"] == "Pasted 0"
    with session_factory() as session:
        approve_action(
            session=session,
            user_id=user_id,
            action_id=result.action_id,
            approved_row_ids=None,
            typed_count="40",
        )
    action = execute_action(
        session_factory=session_factory, user_id=user_id, action_id=result.action_id, client=client
    )
    assert action.status == ActionStatus.DONE
    assert len(writes(items_emulator, "POST")) == 4
    assert len(table_records(items_emulator, TABLE_ITEMS_ID)) == 80
    undo_action(
        session_factory=session_factory, user_id=user_id, action_id=result.action_id, client=client
    )
    assert len(table_records(items_emulator, TABLE_ITEMS_ID)) == 40


async def test_a_write_through_the_pipeline_forgets_the_bases_cached_aggregates(
    items_emulator,
    make_client,
    make_ctx,
    registry,
    session_factory,
    user_id,
    aggregate_cache,
    monkeypatch,
):
    # The steps invalidate the process's cache; here that is the test's own.
    monkeypatch.setattr(aggregate_cache_module, "get_aggregate_cache", lambda: aggregate_cache)
    client = make_client(items_emulator)
    renamed = {"table": "Items", "op": "count"}
    renamed["filters"] = [{"field": "Name", "op": "starts_with", "value": "Renamed"}]

    async def count_renamed() -> int:
        result = await registry.call("aggregate", renamed, make_ctx(client, BASE_PROJECTS_ID))
        assert not result.is_error, result.content
        return json.loads(result.content)["value"]

    def item_reads() -> int:
        path = f"/v0/{BASE_PROJECTS_ID}/{TABLE_ITEMS_ID}"
        return sum(
            1
            for r in items_emulator.stats()["requests"]
            if r["method"] == "GET" and r["path"] == path
        )

    assert await count_renamed() == 0
    assert await count_renamed() == 0
    reads = item_reads()
    action_id = approved(session_factory, user_id, client, rename_items_plan(range(1, 6)))
    execute_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    reads_by_the_action = item_reads() - reads

    assert await count_renamed() == 5
    assert item_reads() == reads + reads_by_the_action + 1
