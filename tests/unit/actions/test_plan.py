"""The typed plan: what write tools stored so far loads, and is stored back unchanged."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from pyairtable_ui.actions.base import plan_hash
from pyairtable_ui.actions.plan import (
    CommentPlan,
    RecordsPlan,
    SchemaPlan,
    parse_plan,
    plan_json,
)

# Plans as the app has stored them in `Action.plan` and `Action.approved_plan`.
STORED: list[dict[str, Any]] = [
    {
        "kind": "records",
        "op": "update",
        "typecast": False,
        "operations": [
            {"op": "update", "record_id": "recDeal0000000002", "fields": {"Stage": "Won"}},
            # None clears a cell: it is a value, never dropped.
            {"op": "update", "record_id": "recDeal0000000003", "fields": {"Notes": None}},
        ],
    },
    {
        "kind": "records",
        "op": "upsert",
        "typecast": True,
        "fields_to_merge_on": ["Name"],
        "new_select_options": {"Stage": ["Closed"]},
        "operations": [
            {
                "op": "upsert",
                "fields": {"Name": "Acme", "Stage": "Closed"},
                "reviewed": {
                    "row_id": "row-1",
                    "kind": "upsert_update",
                    "label": "Acme",
                    "record_id": "recDeal0000000001",
                    "fields": {"Name": "Acme", "Stage": "Open"},
                },
            }
        ],
    },
    {
        "kind": "records",
        "op": "delete",
        "typecast": False,
        "operations": [{"op": "delete", "record_id": "recDeal0000000004"}],
    },
    {
        "kind": "schema",
        "op": "create_table",
        "operations": [
            {
                "op": "create_table",
                "name": "Visits",
                "fields": [{"name": "Name", "type": "singleLineText"}],
                "description": "Who came",
            }
        ],
    },
    {
        "kind": "schema",
        "op": "create_field",
        "operations": [
            {
                "op": "create_field",
                "name": "Score",
                "type": "number",
                "options": {"precision": 0},
            }
        ],
    },
    {
        "kind": "schema",
        "op": "rename_field",
        "operations": [
            {
                "op": "rename_field",
                "field_id": "fldStage00000000",
                "name": "Phase",
                "old_name": "Stage",
            }
        ],
    },
    {
        "kind": "comment",
        "op": "add_comment",
        "operations": [{"op": "add_comment", "record_id": "recDeal0000000001", "text": "Renewed"}],
    },
]


KINDS = {"records": RecordsPlan, "schema": SchemaPlan, "comment": CommentPlan}


@pytest.mark.parametrize("stored", STORED, ids=lambda p: f"{p['kind']}-{p['op']}")
def test_a_stored_plan_loads_and_is_stored_back_as_it_was(stored):
    plan = parse_plan(stored)

    assert isinstance(plan, KINDS[stored["kind"]])
    assert plan_json(plan) == stored
    assert plan_hash(plan_json(plan)) == plan_hash(stored)


def test_typed_access_reads_what_the_json_says():
    plan = parse_plan(STORED[1])

    assert isinstance(plan, RecordsPlan)
    assert plan.merge_fields == ["Name"]
    (operation,) = plan.operations
    assert operation.reviewed is not None and operation.reviewed.fields["Stage"] == "Open"
    assert parse_plan(STORED[0]).operations[1].fields == {"Notes": None}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "broken",
    [
        {"kind": "records", "op": "update", "operations": [{"op": "update", "fields": {}}]},
        {"kind": "records", "op": "move", "operations": []},
        {"kind": "schema", "op": "create_field", "operations": []},
        {"kind": "macro", "op": "run", "operations": []},
        {
            "kind": "comment",
            "op": "add_comment",
            "operations": [{"op": "add_comment", "record_id": "rec1", "text": "x", "to": "y"}],
        },
    ],
)
def test_a_plan_that_is_not_one_is_refused(broken):
    with pytest.raises(pydantic.ValidationError):
        parse_plan(broken)
