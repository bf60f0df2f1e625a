"""The registry: schemas for the model, and every wrong call answered as text to fix."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from pydantic.errors import PydanticInvalidForJsonSchema

from pyairtable_ui.airtable.errors import ToolCancelled
from pyairtable_ui.emulator.seeds import TOKEN_NO_SCHEMA
from pyairtable_ui.tools import (
    WRITE_TOOL_NAMES,
    Tool,
    ToolContext,
    ToolRegistry,
    ToolResult,
    TurnTools,
)
from pyairtable_ui.tools.arguments import NoArguments, ToolArguments

EXPECTED_TOOLS = [
    "list_bases",
    "list_tables",
    "describe_table",
    "search_records",
    "get_record",
    "aggregate",
    "create_records",
    "update_records",
    "upsert_records",
    "delete_records",
    "update_matching_records",
    "delete_matching_records",
    "create_table",
    "create_field",
    "rename_table",
    "rename_field",
    "add_comment",
]


def test_schemas_are_in_the_openai_tools_format(registry: ToolRegistry):
    schemas = registry.schemas()
    assert [s["function"]["name"] for s in schemas] == EXPECTED_TOOLS
    for schema in schemas:
        assert schema["type"] == "function"
        assert schema["function"]["parameters"]["type"] == "object"
        assert schema["function"]["description"]
    writes = {name for name in EXPECTED_TOOLS if registry.get(name).writes}  # type: ignore[union-attr]
    assert writes == set(EXPECTED_TOOLS[6:])
    assert WRITE_TOOL_NAMES == tuple(EXPECTED_TOOLS[6:])  # derived, in the model's order
    # The model is never offered a raw formula.
    assert "formula" not in json.dumps(registry.schemas()).lower().replace("formulas", "")


async def test_unknown_tool_lists_the_real_ones(registry, ctx):
    result = await registry.call("drop_table", "{}", ctx)
    assert result.is_error and "search_records" in result.content


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ('{"table": "Deals"', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
async def test_arguments_that_are_not_a_json_object(registry, ctx, raw, says):
    result = await registry.call("search_records", raw, ctx)
    assert result.is_error and says in result.content


async def test_schema_violations_list_each_problem_with_its_path(registry, ctx):
    result = await registry.call(
        "search_records",
        {
            "table": "Deals",
            "limit": 500,
            "filters": [{"field": "Stage", "op": "equals", "value": "Won"}],
            "formula": "{Stage}='Won'",
        },
        ctx,
    )
    assert result.is_error
    assert "limit: 500 is greater than the maximum of 100" in result.content
    assert "filters[0].op: 'equals' is not one of" in result.content
    assert "'formula' was unexpected" in result.content
    assert ctx.client.calls == 0  # nothing reached Airtable


async def test_unknown_table_and_field_names_come_back_with_suggestions(registry, ctx):
    table = await registry.call("describe_table", {"table": "Deal"}, ctx)
    assert table.is_error and 'Did you mean "Deals"?' in table.content
    field = await registry.call(
        "search_records",
        {"table": "Deals", "filters": [{"field": "Stag", "op": "eq", "value": "Won"}]},
        ctx,
    )
    assert field.is_error and 'Did you mean "Stage"' in field.content


async def test_unknown_names_refresh_the_schema_once_per_turn(registry, ctx, airtable_emulator):
    for _ in range(3):
        await registry.call("describe_table", {"table": "Nope"}, ctx)
    # One cached fetch, one forced refresh (the table might be new), then no more.
    assert airtable_emulator.stats()["by_endpoint"]["GET /v0/meta/bases/{baseId}/tables"] == 2


async def test_airtable_errors_are_error_results(
    registry, airtable_emulator, make_client, make_ctx
):
    ctx = make_ctx(make_client(airtable_emulator, token=TOKEN_NO_SCHEMA))
    result = await registry.call("list_tables", {}, ctx)
    assert result.is_error
    assert "403" in result.content and "tell the user" in result.content


async def test_no_base_selected_asks_to_choose_one(registry, make_ctx, client):
    ctx = make_ctx(client, base_id=None)
    result = await registry.call("list_tables", {}, ctx)
    assert result.is_error and "No base is selected" in result.content
    bases = await registry.call("list_bases", None, ctx)  # works without a base
    assert not bases.is_error and "Emulator CRM (appEmulatorBase01, create)" in bases.content


async def test_a_crashing_tool_is_logged_and_reported(ctx: ToolContext, caplog):
    def broken(ctx: ToolContext, args: NoArguments) -> ToolResult:
        raise KeyError("bug")

    registry = ToolRegistry([Tool("broken", "Fails.", NoArguments, broken, needs_base=False)])
    with caplog.at_level(logging.ERROR):
        result = await registry.call("broken", {}, ctx)
    assert result.is_error and "internal error" in result.content
    assert "tool broken crashed" in caplog.text and "KeyError" in caplog.text


async def test_stop_propagates_from_the_registry_and_is_a_result_for_the_turn(ctx):
    def stopped(ctx: ToolContext, args: NoArguments) -> ToolResult:
        ctx.client.check_cancelled()
        return ToolResult("ran")

    registry = ToolRegistry([Tool("slow", "Slow.", NoArguments, stopped)])
    ctx.client.cancel()
    with pytest.raises(ToolCancelled):
        await registry.call("slow", {}, ctx)
    turn = TurnTools(registry, ctx)
    result = await turn.call("slow", "{}", "call_1")
    assert result.is_error and "Stopped by the user" in result.content


async def test_turn_tools_count_the_turns_airtable_requests(registry, ctx):
    turn = TurnTools(registry, ctx)
    assert turn.airtable_calls() == 0
    await turn.call("search_records", '{"table": "Deals", "limit": 2}', "call_1")
    # Schema, one page, one lookup of linked companies (no count: not asked for).
    assert turn.airtable_calls() == ctx.client.calls == 3
    assert [s["function"]["name"] for s in turn.schemas()] == EXPECTED_TOOLS


def test_a_tool_with_a_broken_schema_is_refused_at_registration():
    class Unshowable(ToolArguments):
        callback: Callable[[], None]  # no JSON schema can describe it

    with pytest.raises(PydanticInvalidForJsonSchema):
        ToolRegistry([Tool("bad", "Bad.", Unshowable, lambda c, a: ToolResult(""))])
    tool = Tool("twice", "Twice.", NoArguments, lambda c, a: ToolResult(""))
    with pytest.raises(ValueError, match="registered twice"):
        ToolRegistry([tool, tool])
