"""Tool arguments: pydantic models whose trimmed JSON schema the model sees, checked strictly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import select

from pyairtable_ui.actions.models import Action
from pyairtable_ui.tools import ToolRegistry
from pyairtable_ui.tools.arguments import (
    CreateFieldArguments,
    SearchRecordsArguments,
    ToolArguments,
)


def walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [d for item in node for d in walk(item)]
    if not isinstance(node, dict):
        return []
    found = [node]
    for key, value in node.items():
        if key == "properties":
            found += [d for sub in value.values() for d in walk(sub)]
        else:
            found += walk(value)
    return found


def test_the_schemas_the_model_sees_are_inlined_and_untitled(registry: ToolRegistry):
    for tool in registry.schemas():
        parameters = tool["function"]["parameters"]
        assert parameters["type"] == "object" and parameters["additionalProperties"] is False
        for node in walk(parameters):
            assert not {"title", "$ref", "$defs"} & set(node), (tool["function"]["name"], node)
            assert node.get("default", "shown") not in (None, "", [], False)
    search = SearchRecordsArguments.tool_parameters()
    # Field descriptions stay; the models' own docstrings do not reach the model.
    assert search["properties"]["table"] == {"type": "string", "description": "Table name or id."}
    assert "description" not in search and "description" not in search["properties"]["sort"]
    assert search["properties"]["limit"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 20,
    }
    assert search["properties"]["filters"]["items"]["properties"]["value"] == {
        "type": ["string", "number", "boolean", "array", "null"]
    }
    # create_field: the table first, then the field as create_table takes it.
    assert list(CreateFieldArguments.tool_parameters()["properties"])[:3] == [
        "table",
        "name",
        "type",
    ]


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({}, "- (arguments): 'table' is a required property"),
        ({"table": "T", "limit": "5"}, "- limit: '5' is not of type 'integer'"),
        ({"table": "T", "limit": True}, "- limit: True is not of type 'integer'"),
        ({"table": "T", "view": None}, "- view: None is not of type 'string'"),
        (
            {"table": "T", "sort": [{"field": "a", "direction": "down"}]},
            "- sort[0].direction: 'down' is not one of ['asc', 'desc']",
        ),
        (
            {"table": "T", "filters": [{"field": "a", "op": "eq", "value": {"a": 1}}]},
            "- filters[0].value: {'a': 1} is not of type 'string', 'number', 'boolean', "
            "'array', 'null'",
        ),
        (
            {"table": "T", "a": 1, "b": 2},
            "- (arguments): Additional properties are not allowed ('a', 'b' were unexpected)",
        ),
    ],
)
def test_bad_arguments_are_worded_as_json_schema_would(registry, arguments, says):
    problems = registry.validate("search_records", arguments)
    assert isinstance(problems, list) and says in problems, problems


def test_long_values_are_cut_and_say_the_limit(registry):
    records = [{"fields": {"Name": f"Deal {i}"}} for i in range(1001)]
    problems = registry.validate("create_records", {"table": "Deals", "records": records})
    assert isinstance(problems, list) and len(problems) == 1
    assert problems[0].startswith("- records: [{'fields'")
    assert problems[0].endswith("is too long (at most 1000)") and len(problems[0]) < 150


def test_the_tool_gets_typed_arguments_with_defaults(registry):
    # JSON Schema counts 5.0 as an integer, so the model may send it.
    args = registry.validate("search_records", {"table": "Deals", "limit": 5.0})
    assert isinstance(args, SearchRecordsArguments)
    assert (args.limit, args.match, args.filters, args.view) == (5, "all", [], "")
    assert args.as_sent() == {"table": "Deals", "limit": 5}


async def test_the_action_stores_the_arguments_as_the_model_sent_them(registry, write_ctx):
    sent = {"table": "Deals", "records": [{"fields": {"Name": "New", "Amount": 1.5}}]}
    result = await registry.call("create_records", json.dumps(sent), write_ctx)
    with write_ctx.session_factory() as session:
        action = session.exec(select(Action).where(Action.id == result.action_id)).one()
        assert action.arguments == sent  # no typecast=false the model never sent


def test_every_tool_has_its_own_arguments_model(registry):
    for name in registry.names:
        tool = registry.get(name)
        assert tool is not None and issubclass(tool.arguments, ToolArguments)
