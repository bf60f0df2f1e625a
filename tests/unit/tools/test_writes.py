"""Write tools propose actions: checked against the schema, nothing sent to Airtable."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from pyairtable_ui.actions.models import Action, ActionStatus, UndoStatus
from pyairtable_ui.emulator.seeds import TABLE_DEALS_ID
from pyairtable_ui.tools import ToolContext, ToolRegistry

WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


def writes_seen(emulator) -> list[dict[str, Any]]:
    return [r for r in emulator.stats()["requests"] if r["method"] in WRITE_METHODS]


def stored_action(ctx: ToolContext, action_id: int) -> Action:
    with ctx.session_factory() as session:
        action = session.exec(select(Action).where(Action.id == action_id)).one()
        session.expunge(action)
        return action


async def test_update_proposes_an_action_and_changes_nothing(
    registry: ToolRegistry, write_ctx: ToolContext, airtable_emulator
):
    before = airtable_emulator.state.to_seed()
    result = await registry.call(
        "update_records",
        {
            "table": "deals",
            "records": [
                {"id": "recDeal0000000002", "fields": {"stage": "Won", "Amount": 31000}},
                {"id": "recDeal0000000003", "fields": {"Stage": "Lost"}},
            ],
        },
        write_ctx,
    )
    assert not result.is_error, result.content
    assert result.action_id is not None
    assert result.content.startswith(f"Proposed action #{result.action_id}: Update 2 records")
    assert "Nothing has been written yet" in result.content
    assert writes_seen(airtable_emulator) == []
    assert airtable_emulator.state.to_seed() == before

    action = stored_action(write_ctx, result.action_id)
    assert action.status == ActionStatus.PROPOSED
    assert action.undo_status == UndoStatus.NOT_YET
    assert action.user_id == write_ctx.user_id
    assert (action.table_id, action.table_name, action.record_count) == (TABLE_DEALS_ID, "Deals", 2)
    assert action.needs_typed_confirmation is False
    assert action.plan["operations"][0] == {
        "op": "update",
        "record_id": "recDeal0000000002",
        "fields": {"Stage": "Won", "Amount": 31000},  # names as the schema spells them
    }
    assert action.summary == "Update 2 records in Deals (Stage, Amount)"


async def test_create_and_delete_and_comment_propose_too(registry, write_ctx, airtable_emulator):
    created = await registry.call(
        "create_records",
        {"table": "Deals", "records": [{"fields": {"Name": "New deal", "Amount": 10}}]},
        write_ctx,
    )
    deleted = await registry.call(
        "delete_records", {"table": "Deals", "record_ids": ["recDeal0000000004"]}, write_ctx
    )
    comment = await registry.call(
        "add_comment",
        {"table": "Deals", "record_id": "recDeal0000000001", "text": "Renewed"},
        write_ctx,
    )
    assert not any(r.is_error for r in (created, deleted, comment))
    assert writes_seen(airtable_emulator) == []
    delete_action = stored_action(write_ctx, deleted.action_id)
    assert delete_action.needs_typed_confirmation is True  # deletes always need typing
    assert "must type a confirmation" in deleted.content
    assert stored_action(write_ctx, created.action_id).plan["operations"] == [
        {"op": "create", "fields": {"Name": "New deal", "Amount": 10}}
    ]


async def test_large_changes_need_a_typed_confirmation(registry, write_ctx):
    records = [{"fields": {"Name": f"Deal {i}"}} for i in range(21)]
    result = await registry.call(
        "create_records", {"table": "Deals", "records": records}, write_ctx
    )
    assert stored_action(write_ctx, result.action_id).needs_typed_confirmation is True
    small = await registry.call(
        "create_records", {"table": "Deals", "records": records[:20]}, write_ctx
    )
    assert stored_action(write_ctx, small.action_id).needs_typed_confirmation is False


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"Stge": "Won"}, 'Did you mean "Stage"?'),
        ({"Won": 1}, '"Won" is a formula field, computed by Airtable'),
        ({"Stage": "Closed"}, '"Closed" is not an option of "Stage"'),
        ({"Stage": "won"}, 'Did you mean "Won"?'),
        ({"Amount": "a lot"}, "give a number"),
        ({"Close Date": "tomorrow"}, "give YYYY-MM-DD"),
        ({"Company": ["Acme"]}, "takes record ids like recXXXXXXXXXXXXXX"),
        ({"Company": ["recCompany"]}, "takes record ids like recXXXXXXXXXXXXXX"),
        ({"Probability": float("inf")}, "give a number"),
        ({"Name": 5}, "give text"),
    ],
)
async def test_values_airtable_would_refuse_are_caught_before_proposing(
    registry, write_ctx, fields, says
):
    result = await registry.call(
        "update_records",
        {"table": "Deals", "records": [{"id": "recDeal0000000001", "fields": fields}]},
        write_ctx,
    )
    assert result.is_error and says in result.content, result.content
    assert "Nothing was proposed" in result.content
    assert result.action_id is None


@pytest.mark.parametrize(
    ("fields", "refused"),
    [
        ({"Amount": "1,200"}, None),
        ({"Amount": True}, None),
        ({"Company": ["Acme Corp"]}, None),
        ({"Stage": 3}, None),  # becomes the option "3"
        # What Airtable cannot convert is refused even with typecast.
        ({"Amount": "a lot"}, "give a number"),
        ({"Name": {"first": "Ann"}}, "give text"),
    ],
)
async def test_typecast_lets_through_only_what_airtable_converts(
    registry, write_ctx, fields, refused
):
    result = await registry.call(
        "update_records",
        {
            "table": "Deals",
            "typecast": True,
            "records": [{"id": "recDeal0000000001", "fields": fields}],
        },
        write_ctx,
    )
    if refused:
        assert result.is_error and refused in result.content, result.content
    else:
        assert not result.is_error, result.content


async def test_typecast_may_add_select_options_and_the_plan_says_so(registry, write_ctx):
    result = await registry.call(
        "update_records",
        {
            "table": "Deals",
            "typecast": True,
            "records": [{"id": "recDeal0000000001", "fields": {"Stage": "Closed"}}],
        },
        write_ctx,
    )
    assert not result.is_error
    assert "Typecast will add new select options (Stage: Closed)" in result.content
    plan = stored_action(write_ctx, result.action_id).plan
    assert plan["new_select_options"] == {"Stage": ["Closed"]} and plan["typecast"] is True


async def test_upsert_needs_values_for_the_merge_fields(registry, write_ctx):
    missing = await registry.call(
        "upsert_records",
        {
            "table": "Companies",
            "fields_to_merge_on": ["Name"],
            "records": [{"fields": {"Employees": 5}}],
        },
        write_ctx,
    )
    assert missing.is_error and "needs a value for Name" in missing.content
    ok = await registry.call(
        "upsert_records",
        {
            "table": "Companies",
            "fields_to_merge_on": ["name"],
            "records": [{"fields": {"Name": "Acme Corp", "Employees": 130}}],
        },
        write_ctx,
    )
    assert stored_action(write_ctx, ok.action_id).plan["fields_to_merge_on"] == ["Name"]


async def test_schema_changes_are_proposed_with_airtable_shaped_fields(
    registry, write_ctx, airtable_emulator
):
    table = await registry.call(
        "create_table",
        {
            "name": "Invoices",
            "fields": [
                {"name": "Number", "type": "singleLineText"},
                {"name": "Status", "type": "singleSelect", "choices": ["Draft", "Sent"]},
                {"name": "Customer", "type": "multipleRecordLinks", "linked_table": "companies"},
                {"name": "Total", "type": "currency"},
            ],
        },
        write_ctx,
    )
    assert not table.is_error, table.content
    fields = stored_action(write_ctx, table.action_id).plan["operations"][0]["fields"]
    assert fields[1]["options"] == {"choices": [{"name": "Draft"}, {"name": "Sent"}]}
    assert fields[2]["options"] == {"linkedTableId": "tblEmuCompanies01"}
    assert fields[3]["options"] == {"precision": 2, "symbol": "$"}

    duplicate = await registry.call(
        "create_field", {"table": "Deals", "name": "stage", "type": "number"}, write_ctx
    )
    assert duplicate.is_error and 'already has a field "stage"' in duplicate.content
    renamed = await registry.call(
        "rename_field", {"table": "Deals", "field": "Stage", "new_name": "Phase"}, write_ctx
    )
    assert stored_action(write_ctx, renamed.action_id).plan["operations"][0] == {
        "op": "rename_field",
        "field_id": "fldDeals000000004",
        "name": "Phase",
        "old_name": "Stage",
    }
    clash = await registry.call(
        "rename_table", {"table": "Deals", "new_name": "contacts"}, write_ctx
    )
    assert clash.is_error and 'A table "Contacts" exists already' in clash.content
    assert writes_seen(airtable_emulator) == []
