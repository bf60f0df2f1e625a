"""Actions: proposed by tools, confirmed as a whole, executed in logged batches of ten."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from pyairtable_ui.actions.base import ActionError, ActionNotFoundError, ActionStateError
from pyairtable_ui.actions.execution import execute_action
from pyairtable_ui.actions.models import (
    Action,
    ActionStatus,
    ActionStep,
    StepStatus,
    UndoStatus,
)
from pyairtable_ui.actions.plan import parse_plan
from pyairtable_ui.actions.service import (
    confirm_action,
    get_action,
    list_actions,
    list_steps,
    propose_action,
    reject_action,
)
from pyairtable_ui.airtable.schema import get_base_schema
from pyairtable_ui.core.db import SessionFactory
from pyairtable_ui.emulator.seeds import (
    BASE_CRM_ID,
    BASE_PROJECTS_ID,
    TABLE_DEALS_ID,
    TABLE_ITEMS_ID,
    TOKEN_FULL,
)
from tests.fakes.airtable_fixtures import emulator_api


def items_update_plan(count: int, *, offset: int = 0) -> dict[str, Any]:
    return {
        "kind": "records",
        "op": "update",
        "typecast": False,
        "operations": [
            {
                "op": "update",
                "record_id": f"recItem{i:010d}",
                "fields": {"Name": f"Renamed {i}"},
            }
            for i in range(offset + 1, offset + count + 1)
        ],
    }


def propose(
    session_factory: SessionFactory,
    user_id: int,
    plan: dict[str, Any],
    *,
    base_id: str = BASE_PROJECTS_ID,
    table_id: str | None = TABLE_ITEMS_ID,
    tool_name: str = "update_records",
) -> int:
    with session_factory() as session:
        action = propose_action(
            session=session,
            user_id=user_id,
            conversation_id=None,
            message_id=None,
            tool_name=tool_name,
            base_id=base_id,
            table_id=table_id,
            table_name="Items",
            arguments={},
            plan=parse_plan(plan),
            summary="test",
            record_count=len(plan.get("operations", [])),
            needs_typed_confirmation=False,
        )
        assert action.id is not None
        return action.id


def steps_of(session_factory: SessionFactory, user_id: int, action_id: int) -> list[ActionStep]:
    with session_factory() as session:
        steps = list_steps(session=session, user_id=user_id, action_id=action_id)
        for step in steps:
            session.expunge(step)
        return steps


def item_names(emulator, ids: list[str]) -> dict[str, str]:
    table = emulator_api(emulator, TOKEN_FULL).table(BASE_PROJECTS_ID, TABLE_ITEMS_ID)
    return {r["id"]: r["fields"]["Name"] for r in table.all() if r["id"] in ids}


def test_execute_writes_batches_of_ten_with_a_step_each(
    items_emulator, make_client, session_factory, user_id
):
    action_id = propose(session_factory, user_id, items_update_plan(35))
    client = make_client(items_emulator)

    action = execute_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )

    assert action.status == ActionStatus.DONE
    assert action.undo_status == UndoStatus.AVAILABLE
    assert action.confirmed_at is not None and action.finished_at is not None
    steps = steps_of(session_factory, user_id, action_id)
    assert [len(s.record_ids) for s in steps] == [10, 10, 10, 5]
    assert [s.seq for s in steps] == [1, 2, 3, 4]
    assert all(s.status == StepStatus.DONE and s.method == "PATCH" for s in steps)
    assert steps[0].path == f"/v0/{BASE_PROJECTS_ID}/{TABLE_ITEMS_ID}"
    # Before: the records as they were; after: as Airtable returned them.
    assert steps[0].before[0]["fields"]["Name"] == "Item 0001"
    assert steps[0].after[0]["fields"]["Name"] == "Renamed 1"
    assert len(steps[3].before) == 5
    writes = [r for r in items_emulator.stats()["requests"] if r["method"] == "PATCH"]
    assert len(writes) == 4
    names = item_names(items_emulator, [f"recItem{i:010d}" for i in (1, 35, 36)])
    assert names == {
        "recItem0000000001": "Renamed 1",
        "recItem0000000035": "Renamed 35",
        "recItem0000000036": "Item 0036",
    }


def test_a_failure_at_batch_three_stops_and_leaves_a_true_record(
    items_emulator, make_client, session_factory, user_id
):
    action_id = propose(session_factory, user_id, items_update_plan(40))
    items_emulator.inject_failure(
        method="PATCH",
        path_contains=TABLE_ITEMS_ID,
        after=2,
        count=1,
        status=422,
        body={"error": {"type": "INVALID_VALUE_FOR_COLUMN", "message": 'Field "Name" refused'}},
    )

    action = execute_action(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=make_client(items_emulator),
    )

    assert action.status == ActionStatus.FAILED
    assert action.undo_status == UndoStatus.NOT_YET
    assert "Batch 3 of 4 failed" in action.error and "Batches 1-2 were applied" in action.error
    steps = steps_of(session_factory, user_id, action_id)
    assert [s.status for s in steps] == [StepStatus.DONE, StepStatus.DONE, StepStatus.FAILED]
    assert 'Field "Name" refused' in steps[2].error
    assert steps[2].before and steps[2].after is None
    names = item_names(items_emulator, [f"recItem{i:010d}" for i in (20, 21, 31)])
    assert names == {
        "recItem0000000020": "Renamed 20",
        "recItem0000000021": "Item 0021",
        "recItem0000000031": "Item 0031",
    }


def test_stop_between_batches_interrupts_the_action(
    items_emulator, make_client, session_factory, user_id
):
    action_id = propose(session_factory, user_id, items_update_plan(30))
    client = make_client(items_emulator)
    client.cancel()
    action = execute_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    assert action.status == ActionStatus.INTERRUPTED
    assert not [r for r in items_emulator.stats()["requests"] if r["method"] == "PATCH"]


def test_create_and_delete_record_ids_and_snapshots(
    airtable_emulator, make_client, session_factory, user_id
):
    client = make_client(airtable_emulator)
    create = {
        "kind": "records",
        "op": "create",
        "typecast": False,
        "operations": [{"op": "create", "fields": {"Name": f"Deal {i}"}} for i in range(12)],
    }
    created_id = propose(
        session_factory, user_id, create, base_id=BASE_CRM_ID, table_id=TABLE_DEALS_ID
    )
    execute_action(
        session_factory=session_factory, user_id=user_id, action_id=created_id, client=client
    )
    created = steps_of(session_factory, user_id, created_id)
    new_ids = [rid for step in created for rid in step.record_ids]
    assert [len(s.record_ids) for s in created] == [10, 2] and all(
        r.startswith("rec") for r in new_ids
    )
    assert created[0].before is None

    delete = {
        "kind": "records",
        "op": "delete",
        "typecast": False,
        "operations": [
            {"op": "delete", "record_id": rid} for rid in [*new_ids[:2], "recDeal0000000001"]
        ],
    }
    deleted_id = propose(
        session_factory, user_id, delete, base_id=BASE_CRM_ID, table_id=TABLE_DEALS_ID
    )
    action = execute_action(
        session_factory=session_factory, user_id=user_id, action_id=deleted_id, client=client
    )
    assert action.status == ActionStatus.DONE
    (step,) = steps_of(session_factory, user_id, deleted_id)
    assert step.method == "DELETE" and len(step.before) == 3
    # Everything needed to re-create the deleted deal on undo.
    original = next(b for b in step.before if b["id"] == "recDeal0000000001")
    assert original["fields"]["Name"] == "Acme renewal" and original["fields"]["Amount"] == 12000


def test_rename_field_runs_as_one_step_and_refreshes_the_schema(
    airtable_emulator, make_client, session_factory, user_id, schema_cache
):
    client = make_client(airtable_emulator)
    get_base_schema(client, BASE_CRM_ID, cache=schema_cache, ttl=300)
    plan = {
        "kind": "schema",
        "op": "rename_field",
        "operations": [
            {
                "op": "rename_field",
                "field_id": "fldDeals000000004",
                "name": "Phase",
                "old_name": "Stage",
            }
        ],
    }
    action_id = propose(
        session_factory,
        user_id,
        plan,
        base_id=BASE_CRM_ID,
        table_id=TABLE_DEALS_ID,
        tool_name="rename_field",
    )
    action = execute_action(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=client,
        schema_cache=schema_cache,
    )
    assert action.status == ActionStatus.DONE and action.undo_status == UndoStatus.AVAILABLE
    (step,) = steps_of(session_factory, user_id, action_id)
    assert step.before == [{"id": "fldDeals000000004", "name": "Stage"}]
    assert step.after[0]["name"] == "Phase"
    assert schema_cache.get(BASE_CRM_ID) is None  # the next turn sees the new name
    assert (
        get_base_schema(client, BASE_CRM_ID, cache=schema_cache, ttl=300)
        .table("Deals")
        .field("Phase")
    )


def test_created_fields_cannot_be_undone_through_the_api(
    airtable_emulator, make_client, session_factory, user_id
):
    plan = {
        "kind": "schema",
        "op": "create_field",
        "operations": [{"op": "create_field", "name": "Region", "type": "singleLineText"}],
    }
    action_id = propose(
        session_factory,
        user_id,
        plan,
        base_id=BASE_CRM_ID,
        table_id=TABLE_DEALS_ID,
        tool_name="create_field",
    )
    action = execute_action(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=make_client(airtable_emulator),
    )
    assert action.status == ActionStatus.DONE
    assert action.undo_status == UndoStatus.NOT_POSSIBLE and "cannot delete" in action.undo_note


def test_actions_are_scoped_to_their_user(session_factory, user_id, other_user_id):
    action_id = propose(session_factory, user_id, items_update_plan(1))
    with session_factory() as session:
        assert get_action(session=session, user_id=user_id, action_id=action_id).id == action_id
        with pytest.raises(ActionNotFoundError):
            get_action(session=session, user_id=other_user_id, action_id=action_id)
        with pytest.raises(ActionError, match=f"Action #{action_id} was not found"):
            reject_action(session=session, user_id=other_user_id, action_id=action_id)
        assert list_actions(session=session, user_id=other_user_id) == []
        assert [a.id for a in list_actions(session=session, user_id=user_id)] == [action_id]


def test_rejected_actions_never_run_and_running_twice_is_refused(
    items_emulator, make_client, session_factory, user_id
):
    rejected = propose(session_factory, user_id, items_update_plan(1))
    with session_factory() as session:
        assert (
            reject_action(session=session, user_id=user_id, action_id=rejected).status
            == ActionStatus.REJECTED
        )
    with pytest.raises(ActionStateError):
        execute_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=rejected,
            client=make_client(items_emulator),
        )
    done = propose(session_factory, user_id, items_update_plan(1))
    execute_action(
        session_factory=session_factory,
        user_id=user_id,
        action_id=done,
        client=make_client(items_emulator),
    )
    with pytest.raises(ActionStateError):
        execute_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=done,
            client=make_client(items_emulator),
        )
    with session_factory() as session, pytest.raises(ActionStateError):
        reject_action(session=session, user_id=user_id, action_id=done)


def test_an_altered_approved_plan_is_not_run(items_emulator, make_client, session_factory, user_id):
    action_id = propose(session_factory, user_id, items_update_plan(2))
    with session_factory() as session:
        confirm_action(session=session, user_id=user_id, action_id=action_id)
    with session_factory() as session:
        action = session.exec(select(Action).where(Action.id == action_id)).one()
        action.approved_plan = items_update_plan(3)
        session.add(action)
    with pytest.raises(ActionStateError, match="altered"):
        execute_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=action_id,
            client=make_client(items_emulator),
        )
