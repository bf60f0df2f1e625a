"""Undo: values back, conflicts shown, deletes re-created with links re-pointed, schema limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from pyairtable_ui.actions.approval import approve_action
from pyairtable_ui.actions.base import ActionNotFoundError, ActionStateError
from pyairtable_ui.actions.execution import execute_action
from pyairtable_ui.actions.models import ActionStatus, ActionStep, UndoStatus
from pyairtable_ui.actions.preview import build_preview
from pyairtable_ui.actions.undo import (
    UndoConflictError,
    plan_undo,
    propose_rename_instead,
    undo_action,
)
from pyairtable_ui.emulator import build_seed
from pyairtable_ui.emulator.seeds import (
    BASE_CRM_ID,
    BASE_PROJECTS_ID,
    TABLE_COMPANIES_ID,
    TABLE_DEALS_ID,
    TABLE_TASKS_ID,
    TOKEN_FULL,
    company_id,
    deal_id,
    padded_id,
)
from tests.fakes.airtable_fixtures import emulator_api
from tests.unit.actions.helpers import (
    item_id,
    load,
    propose,
    records_plan,
    steps_of,
    table_records,
    writes,
)

DEALS = {"base_id": BASE_CRM_ID, "table_id": TABLE_DEALS_ID, "table_name": "Deals"}


def run(session_factory, user_id, client, plan, **kwargs) -> int:
    """Propose, preview, approve every row (typing the count when needed) and execute."""
    action_id = propose(session_factory, user_id, plan, **kwargs)
    build_preview(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    with session_factory() as session:
        approve_action(
            session=session,
            user_id=user_id,
            action_id=action_id,
            approved_row_ids=None,
            typed_count=str(len(plan["operations"])),
            threshold=20,
        )
    action = execute_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    assert action.status == ActionStatus.DONE, action.error
    return action_id


def stage_plan(stages: dict[str, str]) -> dict:
    return records_plan(
        "update",
        [
            {"op": "update", "record_id": rid, "fields": {"Stage": stage}}
            for rid, stage in stages.items()
        ],
    )


def deals(emulator) -> dict[str, dict]:
    return table_records(emulator, TABLE_DEALS_ID, BASE_CRM_ID)


def test_a_record_edited_since_the_action_is_shown_as_a_conflict(
    airtable_emulator, make_client, session_factory, user_id
):
    client = make_client(airtable_emulator)
    plan = stage_plan({deal_id(2): "Won", deal_id(3): "Won", deal_id(5): "Won"})
    action_id = run(session_factory, user_id, client, plan, **DEALS)
    airtable_emulator.state.update_record(BASE_CRM_ID, "Deals", deal_id(3), {"Stage": "Lost"})

    plan_ = plan_undo(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )

    assert plan_["conflicts"] == 1
    rows = {r["row_id"]: r for r in plan_["rows"]}
    assert rows[deal_id(3)]["conflict"] and not rows[deal_id(2)]["conflict"]
    assert rows[deal_id(3)]["cells"] == [
        {
            "field": "Stage",
            "written": "Won",
            "current": "Lost",
            "restore": "Qualified",
            "conflict": True,
        }
    ]
    assert "1 record changed since the action" in plan_["message"]

    # Without a choice for the conflicting record, nothing is sent.
    with pytest.raises(UndoConflictError) as raised:
        undo_action(
            session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
        )
    assert raised.value.plan["conflicts"] == 1
    assert "overwrite" in raised.value.message
    assert load(session_factory, action_id).status == ActionStatus.DONE
    assert all(s.kind == "apply" for s in steps_of(session_factory, user_id, action_id))

    undone = undo_action(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=client,
        resolutions={deal_id(3): "skip"},
    )

    assert (undone.status, undone.undo_status) == (ActionStatus.UNDONE, UndoStatus.PARTIAL)
    assert "kept its newer value (Stage)" in undone.undo_note
    now = deals(airtable_emulator)
    assert (now[deal_id(2)]["Stage"], now[deal_id(3)]["Stage"], now[deal_id(5)]["Stage"]) == (
        "Proposal",
        "Lost",
        "Lead",
    )


def test_overwrite_restores_a_conflicting_record(
    airtable_emulator, make_client, session_factory, user_id
):
    client = make_client(airtable_emulator)
    action_id = run(session_factory, user_id, client, stage_plan({deal_id(3): "Won"}), **DEALS)
    airtable_emulator.state.update_record(BASE_CRM_ID, "Deals", deal_id(3), {"Stage": "Lost"})
    undone = undo_action(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=client,
        resolutions={deal_id(3): "overwrite"},
    )
    assert undone.undo_status == UndoStatus.DONE
    assert deals(airtable_emulator)[deal_id(3)]["Stage"] == "Qualified"


def test_a_delete_and_its_undo_bring_values_and_links_back(
    airtable_emulator, make_client, session_factory, user_id
):
    client = make_client(airtable_emulator)
    original = deals(airtable_emulator)[deal_id(1)]
    plan = records_plan("delete", [{"op": "delete", "record_id": deal_id(1)}])
    action_id = run(session_factory, user_id, client, plan, typed=True, **DEALS)
    companies = table_records(airtable_emulator, TABLE_COMPANIES_ID, BASE_CRM_ID)
    assert deal_id(1) not in companies[company_id(1)]["Deals"]

    plan_ = plan_undo(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    assert plan_["rows"][0]["effect"] == "recreate"
    assert "new ids" in plan_["message"]
    undone = undo_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )

    assert undone.status == ActionStatus.UNDONE
    now = deals(airtable_emulator)
    (new_id,) = [rid for rid, f in now.items() if f["Name"] == "Acme renewal"]
    assert new_id != deal_id(1)
    computed = {"Won"}
    assert {k: v for k, v in now[new_id].items() if k not in computed} == {
        k: v for k, v in original.items() if k not in computed
    }
    # The company's link (the other side of the pair) points at the new record.
    companies = table_records(airtable_emulator, TABLE_COMPANIES_ID, BASE_CRM_ID)
    assert new_id in companies[company_id(1)]["Deals"]
    assert f"{deal_id(1)} → {new_id}" in undone.undo_note
    assert "new ids" in undone.undo_note


def test_links_without_an_inverse_are_re_pointed_at_re_created_records(
    airtable_emulator_factory, make_client, session_factory, user_id
):
    seed = build_seed()
    tasks = next(t for b in seed["bases"] for t in b["tables"] if t["id"] == TABLE_TASKS_ID)
    # A table linking to itself has no inverse field: only the linking records know.
    tasks["fields"].append(
        {
            "id": padded_id("fld", "Tasks", 6),
            "name": "Blocked By",
            "type": "multipleRecordLinks",
            "options": {"linkedTableId": TABLE_TASKS_ID},
        }
    )
    task = {r["fields"]["Name"]: r for r in tasks["records"]}
    blocker = task["Design mockups"]["id"]
    task["Build landing page"]["fields"]["Blocked By"] = [blocker]
    task["Write copy"]["fields"]["Blocked By"] = [blocker]
    emulator = airtable_emulator_factory(seed)
    client = make_client(emulator)
    plan = records_plan("delete", [{"op": "delete", "record_id": blocker}])
    action_id = run(
        session_factory,
        user_id,
        client,
        plan,
        typed=True,
        base_id=BASE_PROJECTS_ID,
        table_id=TABLE_TASKS_ID,
        table_name="Tasks",
    )
    (step,) = steps_of(session_factory, user_id, action_id)
    linking = {ref["record_id"] for ref in step.before[0]["linked_from"]}
    assert linking == {task["Build landing page"]["id"], task["Write copy"]["id"]}

    undo_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )

    now = table_records(emulator, TABLE_TASKS_ID, BASE_PROJECTS_ID)
    (new_id,) = [rid for rid, f in now.items() if f["Name"] == "Design mockups"]
    assert now[task["Build landing page"]["id"]]["Blocked By"] == [new_id]
    assert now[task["Write copy"]["id"]]["Blocked By"] == [new_id]
    projects = table_records(emulator, "tblEmuProjects001", BASE_PROJECTS_ID)
    assert new_id in projects[padded_id("rec", "Project", 1)]["Tasks"]  # the paired link too


def test_files_are_re_attached_while_their_links_are_fresh_and_reported_lost_after(
    airtable_emulator, make_client, session_factory, user_id
):
    client = make_client(airtable_emulator)
    client.request(
        "POST",
        "meta",
        "bases",
        BASE_CRM_ID,
        "tables",
        TABLE_DEALS_ID,
        "fields",
        json={"name": "Files", "type": "multipleAttachments"},
    )
    for n in (4, 6):
        airtable_emulator.state.update_record(
            BASE_CRM_ID,
            "Deals",
            deal_id(n),
            {"Files": [{"url": f"https://files.example/deal-{n}.pdf"}]},
        )
    fresh = run(
        session_factory,
        user_id,
        client,
        records_plan("delete", [{"op": "delete", "record_id": deal_id(4)}]),
        typed=True,
        **DEALS,
    )
    stale = run(
        session_factory,
        user_id,
        client,
        records_plan("delete", [{"op": "delete", "record_id": deal_id(6)}]),
        typed=True,
        **DEALS,
    )
    with session_factory() as session:  # that delete ran three hours ago
        step = session.exec(select(ActionStep).where(ActionStep.action_id == stale)).one()
        step.finished_at = step.finished_at - timedelta(hours=3)
        session.add(step)

    notes = [
        undo_action(
            session_factory=session_factory, user_id=user_id, action_id=a, client=client
        ).undo_note
        for a in (fresh, stale)
    ]

    now = {f["Name"]: f for f in deals(airtable_emulator).values()}
    assert now["Initech license"]["Files"][0]["filename"] == "deal-4.pdf"
    assert "check that the files open" in notes[0]
    assert "Files" not in now["Stark POS"]
    assert "could not be restored" in notes[1] and "deal-6.pdf" in notes[1]


def test_creates_are_deleted_and_upserts_put_back(
    items_emulator, make_client, session_factory, user_id
):
    client = make_client(items_emulator)
    before = table_records(items_emulator, "tblEmuItems000001")
    created = run(
        session_factory,
        user_id,
        client,
        records_plan(
            "create", [{"op": "create", "fields": {"Name": f"New {n}"}} for n in range(3)]
        ),
    )
    upserted = run(
        session_factory,
        user_id,
        client,
        records_plan(
            "upsert",
            [
                {"op": "upsert", "fields": {"Name": "Item 0005", "Index": 999}},
                {"op": "upsert", "fields": {"Name": "Fresh", "Index": 1}},
            ],
            fields_to_merge_on=["Name"],
        ),
    )
    new_id = steps_of(session_factory, user_id, created)[0].record_ids[0]
    items_emulator.state.update_record(BASE_PROJECTS_ID, "Items", new_id, {"Index": 7})

    with pytest.raises(UndoConflictError):  # someone filled in a record we created
        undo_action(
            session_factory=session_factory, user_id=user_id, action_id=created, client=client
        )
    for action_id, resolutions in ((upserted, None), (created, {new_id: "overwrite"})):
        undone = undo_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=action_id,
            client=client,
            resolutions=resolutions,
        )
        assert undone.undo_status == UndoStatus.DONE
    assert table_records(items_emulator, "tblEmuItems000001") == before
    assert item_id(5) in before


def test_renames_are_reversed_and_comments_deleted(
    airtable_emulator, make_client, session_factory, user_id
):
    client = make_client(airtable_emulator)
    rename = {
        "kind": "schema",
        "op": "rename_field",
        "operations": [{"op": "rename_field", "field_id": "fldDeals000000004", "name": "Phase"}],
    }
    comment = {
        "kind": "comment",
        "op": "add_comment",
        "operations": [{"op": "add_comment", "record_id": deal_id(2), "text": "Call back"}],
    }
    renamed = run(session_factory, user_id, client, rename, tool_name="rename_field", **DEALS)
    commented = run(session_factory, user_id, client, comment, tool_name="add_comment", **DEALS)
    comments = (
        emulator_api(airtable_emulator, TOKEN_FULL).table(BASE_CRM_ID, TABLE_DEALS_ID).comments
    )
    assert [c.text for c in comments(deal_id(2))] == ["Call back"]

    for action_id in (renamed, commented):
        undone = undo_action(
            session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
        )
        assert undone.undo_status == UndoStatus.DONE
    assert "Stage" in deals(airtable_emulator)[deal_id(1)]
    assert comments(deal_id(2)) == []


def test_created_fields_cannot_be_undone_and_a_rename_is_offered(
    airtable_emulator, make_client, session_factory, user_id
):
    client = make_client(airtable_emulator)
    plan = {
        "kind": "schema",
        "op": "create_field",
        "operations": [{"op": "create_field", "name": "Region", "type": "singleLineText"}],
    }
    action_id = run(session_factory, user_id, client, plan, tool_name="create_field", **DEALS)

    plan_ = plan_undo(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )

    assert plan_["possible"] is False
    assert "cannot delete" in plan_["message"] and "Region (unused)" in plan_["message"]
    suggestion = plan_["rename_suggestion"]
    assert suggestion is not None and suggestion["current_name"] == "Region"
    with pytest.raises(ActionStateError, match="cannot delete"):
        undo_action(
            session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
        )
    with session_factory() as session:
        rename = propose_rename_instead(
            session=session,
            user_id=user_id,
            action_id=action_id,
            new_name=suggestion["suggested_name"],
        )
        rename_id = rename.id
    assert rename.status == ActionStatus.PROPOSED
    execute_action(
        session_factory=session_factory, user_id=user_id, action_id=rename_id, client=client
    )
    fields = client.request("GET", "meta", "bases", BASE_CRM_ID, "tables")["tables"]
    deals_fields = next(t for t in fields if t["id"] == TABLE_DEALS_ID)["fields"]
    assert "Region (unused)" in [f["name"] for f in deals_fields]


def test_a_user_cannot_see_or_undo_another_users_action(
    airtable_emulator, make_client, session_factory, user_id, other_user_id
):
    client = make_client(airtable_emulator)
    action_id = run(session_factory, user_id, client, stage_plan({deal_id(2): "Won"}), **DEALS)
    with pytest.raises(ActionNotFoundError):
        plan_undo(
            session_factory=session_factory,
            user_id=other_user_id,
            action_id=action_id,
            client=client,
        )
    with pytest.raises(ActionNotFoundError):
        undo_action(
            session_factory=session_factory,
            user_id=other_user_id,
            action_id=action_id,
            client=client,
        )
    with session_factory() as session, pytest.raises(ActionNotFoundError):
        propose_rename_instead(
            session=session, user_id=other_user_id, action_id=action_id, new_name="x"
        )
    assert deals(airtable_emulator)[deal_id(2)]["Stage"] == "Won"
    assert len(writes(airtable_emulator)) == 1


def test_undo_runs_once(airtable_emulator, make_client, session_factory, user_id):
    client = make_client(airtable_emulator)
    action_id = run(session_factory, user_id, client, stage_plan({deal_id(2): "Won"}), **DEALS)
    undo_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )
    with pytest.raises(ActionStateError, match="already undone"):
        undo_action(
            session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
        )
