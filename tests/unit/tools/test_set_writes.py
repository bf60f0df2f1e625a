"""Set-based writes: the matching set is resolved at proposal time into update/delete_records' plan.

"Mark every overdue task Blocked" must not make the model page through every match
and send each id back: it sends the filters once, and the app proposes the very plan
update_records would for the ids search_records finds, so everything downstream
(preview, approval hash, execution, undo, history) is unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import select

from pyairtable_ui.actions.models import Action
from pyairtable_ui.emulator import build_seed
from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TABLE_ITEMS_ID
from pyairtable_ui.tools import WRITE_TOOL_NAMES, ToolContext, ToolRegistry
from pyairtable_ui.tools import writes as writes_module
from tests.unit.tools.test_writes import stored_action, writes_seen

OVERDUE_EVEN = [
    {"field": "Index", "op": "lte", "value": 120},
    {"field": "even", "op": "eq", "value": True},
]


@pytest.fixture
def items(airtable_emulator_factory):
    """The Projects base with 250 Items (matches span several pages of 100)."""
    return airtable_emulator_factory(build_seed(big_table_records=250))


@pytest.fixture
def items_ctx(items, make_client, make_ctx, session_factory, user_id) -> ToolContext:
    return make_ctx(
        make_client(items), BASE_PROJECTS_ID, session_factory=session_factory, user_id=user_id
    )


def actions_stored(ctx: ToolContext) -> list[Action]:
    with ctx.session_factory() as session:
        return list(session.exec(select(Action)).all())


async def searched_ids(registry: ToolRegistry, ctx: ToolContext, **arguments: Any) -> list[str]:
    """Every id search_records lists for these arguments, following next_offset."""
    ids: list[str] = []
    offset = ""
    while True:
        call = {**arguments, "limit": 100, "fields": ["Name"]}
        if offset:
            call["offset"] = offset
        result = await registry.call("search_records", call, ctx)
        assert not result.is_error, result.content
        page = json.loads(result.content)
        ids += [r["id"] for r in page["records"]]
        if not page["more_available"]:
            return ids
        offset = page["next_offset"]


async def test_update_matching_proposes_update_records_plan_for_what_search_finds(
    registry, items_ctx, items
):
    found = await searched_ids(registry, items_ctx, table="Items", filters=OVERDUE_EVEN)
    assert len(found) == 60

    result = await registry.call(
        "update_matching_records",
        {"table": "items", "filters": OVERDUE_EVEN, "fields": {"group": "D"}},
        items_ctx,
    )
    assert not result.is_error, result.content
    assert writes_seen(items) == [], "a proposal writes nothing"
    action = stored_action(items_ctx, result.action_id)
    assert [o["record_id"] for o in action.plan["operations"]] == found
    assert action.tool_name == "update_matching_records"
    assert action.record_count == 60 and action.needs_typed_confirmation is True
    assert action.summary == (
        "Set Group to D on 60 records in Items where Index is at most 120 and Even is checked"
    )
    assert result.content.startswith(f"Proposed action #{action.id}: Set Group to D on 60")

    by_ids = await registry.call(
        "update_records",
        {"table": "Items", "records": [{"id": rid, "fields": {"Group": "D"}} for rid in found]},
        items_ctx,
    )
    assert stored_action(items_ctx, by_ids.action_id).plan == action.plan


async def test_the_summary_says_the_condition_in_words(registry, items_ctx):
    result = await registry.call(
        "update_matching_records",
        {
            "table": "Projects",
            "filters": [
                {"field": "Due", "op": "lt", "value": "2024-07-01"},
                {"field": "Status", "op": "neq", "value": "Done"},
            ],
            "fields": {"Status": "Active", "Budget": 30000},
        },
        items_ctx,
    )
    action = stored_action(items_ctx, result.action_id)
    assert action.summary == (
        "Set Status to Active, Budget to 30000 on 1 record in Projects where Due is before "
        "2024-07-01 and Status is not Done"
    )
    assert action.needs_typed_confirmation is False
    assert action.plan["operations"] == [
        {
            "op": "update",
            "record_id": "recProject0000001",
            "fields": {"Status": "Active", "Budget": 30000},
        }
    ]


async def test_delete_matching_proposes_delete_records_plan(registry, items_ctx, items):
    filters = [{"field": "Group", "op": "in", "value": ["A", "B"]}]
    found = await searched_ids(registry, items_ctx, table="Items", filters=filters)
    result = await registry.call(
        "delete_matching_records", {"table": "Items", "filters": filters}, items_ctx
    )
    assert not result.is_error, result.content
    assert writes_seen(items) == []
    action = stored_action(items_ctx, result.action_id)
    assert action.summary == f"Delete {len(found)} records from Items where Group is one of A, B"
    assert action.needs_typed_confirmation is True and "must type a confirmation" in result.content
    by_ids = await registry.call(
        "delete_records", {"table": "Items", "record_ids": found}, items_ctx
    )
    assert stored_action(items_ctx, by_ids.action_id).plan == action.plan


@pytest.mark.parametrize("tool", ["update_matching_records", "delete_matching_records"])
async def test_no_match_says_so_and_proposes_nothing(registry, items_ctx, tool):
    arguments: dict[str, Any] = {
        "table": "Items",
        "filters": [{"field": "Index", "op": "gt", "value": 10_000}],
    }
    if tool == "update_matching_records":
        arguments["fields"] = {"Group": "D"}
    result = await registry.call(tool, arguments, items_ctx)
    assert not result.is_error and result.action_id is None
    assert result.content.startswith(
        "No records in Items match (where Index is more than 10000). Nothing was proposed"
    )
    assert actions_stored(items_ctx) == []


@pytest.mark.parametrize("tool", ["update_matching_records", "delete_matching_records"])
async def test_more_than_the_cap_is_refused(registry, items_ctx, monkeypatch, tool):
    monkeypatch.setattr(writes_module, "MAX_MATCHING_RECORDS", 150)
    arguments: dict[str, Any] = {
        "table": "Items",
        "filters": [{"field": "Index", "op": "gt", "value": 0}],
    }
    if tool == "update_matching_records":
        arguments["fields"] = {"Group": "D"}
    result = await registry.call(tool, arguments, items_ctx)
    assert result.is_error and result.action_id is None
    assert "More than 150 records in Items match" in result.content
    assert "Narrow the filters" in result.content
    assert actions_stored(items_ctx) == []

    monkeypatch.setattr(writes_module, "MAX_MATCHING_RECORDS", 250)
    assert not (await registry.call(tool, arguments, items_ctx)).is_error  # exactly the cap


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"Group": "Z"}, 'fields.Group: "Z" is not an option of "Group"'),
        ({"Index": "many"}, "fields.Index: "),
        ({"Nmae": "x"}, 'Did you mean "Name"?'),
    ],
)
async def test_bad_values_are_refused_before_any_record_is_read(
    registry, items_ctx, items, fields, says
):
    result = await registry.call(
        "update_matching_records",
        {"table": "Items", "filters": OVERDUE_EVEN, "fields": fields},
        items_ctx,
    )
    assert result.is_error and says in result.content, result.content
    assert "Nothing was proposed; fix these and call update_matching_records again" in (
        result.content
    )
    assert not any(
        r["path"].startswith(f"/v0/{BASE_PROJECTS_ID}/{TABLE_ITEMS_ID}")
        for r in items.stats()["requests"]
    )
    assert actions_stored(items_ctx) == []


async def test_a_filter_is_required_and_checked(registry, items_ctx):
    empty = await registry.call(
        "delete_matching_records", {"table": "Items", "filters": []}, items_ctx
    )
    assert empty.is_error and "filters: [] should be non-empty" in empty.content
    wrong = await registry.call(
        "delete_matching_records",
        {"table": "Items", "filters": [{"field": "Index", "op": "gt", "value": "lots"}]},
        items_ctx,
    )
    assert wrong.is_error and "is a number field" in wrong.content
    # The schema only points to search_records' filters; validation is as strict.
    unknown_op = await registry.call(
        "delete_matching_records",
        {"table": "Items", "filters": [{"field": "Index", "op": "below", "value": 3}]},
        items_ctx,
    )
    assert unknown_op.is_error
    assert "filters[0].op: 'below' is not one of 'eq', 'neq'" in unknown_op.content
    assert actions_stored(items_ctx) == []


def test_the_set_tools_are_write_tools_the_history_lists(registry):
    for name in ("update_matching_records", "delete_matching_records"):
        tool = registry.get(name)
        assert tool is not None and tool.writes
        assert name in WRITE_TOOL_NAMES
        assert "filters" in tool.schema()["function"]["parameters"]["required"]


async def test_any_match_and_empty_conditions_read_plainly(registry, items_ctx):
    result = await registry.call(
        "delete_matching_records",
        {
            "table": "Items",
            "match": "any",
            "filters": [
                {"field": "Name", "op": "is_empty"},
                {"field": "Index", "op": "eq", "value": 0},
                {"field": "Group", "op": "eq", "value": None},
            ],
        },
        items_ctx,
    )
    assert result.content.startswith(
        "No records in Items match (where Name is empty or Index is 0 or Group is empty)."
    )
