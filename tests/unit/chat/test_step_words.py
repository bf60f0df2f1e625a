"""Each tool step in plain words: a sentence from its arguments, a result from its answer."""

from __future__ import annotations

import json

import pytest

from pyairtable_ui.chat.step_words import (
    TOOL_WORDS,
    step_result,
    step_sentence,
    step_words,
)
from pyairtable_ui.tools import build_registry

FILTERS = [
    {"field": "Status", "op": "eq", "value": "Review"},
    {"field": "Due", "op": "lt", "value": "2024-06-01"},
]


@pytest.mark.parametrize(
    ("tool", "arguments", "sentence"),
    [
        ("list_bases", {}, "Listed your bases"),
        ("list_tables", {}, "Listed the tables"),
        (
            "list_tables",
            {"detail": "fields", "name_contains": "Task"},
            "Listed the tables whose name contains Task with their fields",
        ),
        ("describe_table", {"table": "Tasks"}, "Read the fields of Tasks"),
        (
            "search_records",
            {"table": "Tasks", "filters": FILTERS},
            "Searched Tasks where Status is Review and Due is before 1 Jun 2024",
        ),
        (
            "search_records",
            {
                "table": "Tasks",
                "filters": [
                    {"field": "Notes", "op": "is_empty"},
                    {"field": "Tag", "op": "in", "value": ["a", "b"]},
                ],
                "match": "any",
                "sort": [{"field": "Due", "direction": "desc"}],
                "view": "Open",
            },
            "Searched Tasks where Notes is empty or Tag is one of a, b in the view Open, "
            "sorted by Due (descending)",
        ),
        (
            "get_record",
            {"table": "Tasks", "record_id": "recTask0000000001"},
            "Opened the record recTask0000000001 in Tasks",
        ),
        ("aggregate", {"table": "Tasks", "op": "count"}, "Counted the records in Tasks"),
        (
            "aggregate",
            {
                "table": "Tasks",
                "op": "sum",
                "field": "Estimate",
                "group_by": "Project",
                "filters": [{"field": "Done", "op": "eq", "value": False}],
            },
            "Added up Estimate in Tasks where Done is unchecked, by Project",
        ),
        ("aggregate", {"table": "T", "op": "max", "field": "Due"}, "Found the highest Due in T"),
        (
            "create_records",
            {"table": "Tasks", "records": [{"fields": {"Name": "x"}}]},
            "Proposed creating 1 record in Tasks",
        ),
        (
            "update_records",
            {
                "table": "Items",
                "records": [
                    {"id": "recItem0000000001", "fields": {"Name": "a", "Done": True}},
                    {"id": "recItem0000000002", "fields": {"Name": "b"}},
                ],
            },
            "Proposed changing Name, Done on 2 records in Items",
        ),
        (
            "upsert_records",
            {
                "table": "Items",
                "fields_to_merge_on": ["Code"],
                "records": [{"fields": {"Code": "A"}}, {"fields": {"Code": "B"}}],
            },
            "Proposed creating or updating 2 records in Items, matched on Code",
        ),
        (
            "delete_records",
            {"table": "Items", "record_ids": ["recItem0000000001"]},
            "Proposed deleting 1 record from Items",
        ),
        (
            "update_matching_records",
            {"table": "Tasks", "filters": FILTERS[:1], "fields": {"Status": "Done"}},
            "Proposed changing Status on the records in Tasks where Status is Review",
        ),
        (
            "delete_matching_records",
            {"table": "Tasks", "filters": [{"field": "Done", "op": "eq", "value": True}]},
            "Proposed deleting the records in Tasks where Done is checked",
        ),
        (
            "create_table",
            {"name": "Notes", "fields": [{"name": "Title", "type": "singleLineText"}]},
            "Proposed a new table Notes with 1 field",
        ),
        (
            "create_field",
            {"table": "Tasks", "name": "Priority", "type": "singleSelect"},
            "Proposed a new field Priority in Tasks",
        ),
        (
            "rename_table",
            {"table": "Tasks", "new_name": "To-dos"},
            "Proposed renaming the table Tasks to To-dos",
        ),
        (
            "rename_field",
            {"table": "Tasks", "field": "Done", "new_name": "Finished"},
            "Proposed renaming the field Done in Tasks to Finished",
        ),
        (
            "add_comment",
            {"table": "Tasks", "record_id": "recTask0000000001", "text": "Hi"},
            "Proposed a comment on the record recTask0000000001 in Tasks",
        ),
    ],
)
def test_each_tool_reads_as_a_sentence(tool: str, arguments: dict, sentence: str) -> None:
    assert step_sentence(tool, arguments) == sentence
    assert step_sentence(tool, json.dumps(arguments)) == sentence, "as the model sent it"


def test_every_tool_the_model_can_call_has_words() -> None:
    names = set(build_registry().names)
    assert names == set(TOOL_WORDS)
    for name in names:
        assert (
            step_sentence(name, "{not json") == f"{TOOL_WORDS[name]} (arguments it could not use)"
        )


def test_arguments_its_model_refuses_and_unknown_tools_say_only_which_tool() -> None:
    assert step_sentence("search_records", {"table": "T", "limit": "5"}) == (
        "Search records (arguments it could not use)"
    )
    assert step_sentence("no_such_tool", {}) == "Use the tool no_such_tool"


@pytest.mark.parametrize(
    ("result", "words"),
    [
        ({"returned": 3, "total": 3}, "3 records"),
        ({"returned": 1, "total": 1}, "1 record"),
        ({"returned": 0, "total": 0}, "no records"),
        ({"returned": 20, "total": 57}, "20 of 57 records"),
        (
            {"returned": 20, "total_at_least": 20, "more_available": True},
            "20 records (more available)",
        ),
        ({"returned": 20, "total_at_least": 1000}, "20 of at least 1,000 records"),
    ],
)
def test_a_search_says_how_many_records_it_found(result: dict, words: str) -> None:
    assert step_result("search_records", json.dumps(result), status="complete") == words


def test_other_results_in_words() -> None:
    def done(tool: str, content: object) -> str:
        text = content if isinstance(content, str) else json.dumps(content)
        return step_result(tool, text, status="complete")

    assert done("aggregate", {"op": "sum", "field": "Estimate", "value": 36}) == "36"
    assert done("aggregate", {"op": "avg", "field": "E", "value": 2.5}) == "2.5"
    assert done("aggregate", {"op": "count", "field": None, "value": 1234}) == "1,234 records"
    assert done("aggregate", {"op": "avg", "field": "E", "value": None}) == "no values"
    assert done("aggregate", {"op": "count", "groups": [{}] * 3, "groups_total": 7}) == "7 groups"
    assert done("get_record", {"id": "recTask0000000001", "fields": {}}) == "found"
    assert done("list_tables", "2 tables (primary field in brackets):\n- A [Name]") == "2 tables"
    assert done("list_bases", "1 bases:\n- CRM (app…)") == "1 base"
    assert done("update_records", "Proposed action #3: …") == "", "the proposal has its card"
    assert done("search_records", "not JSON") == ""
    assert step_result("search_records", None, status="running") == ""
    assert step_result("search_records", "x", status="stopped") == "stopped"
    assert step_result("search_records", "x", status="failed").startswith("did not work")


def test_step_words_puts_both_together() -> None:
    words = step_words(
        "search_records",
        {"table": "Tasks", "filters": FILTERS},
        json.dumps({"returned": 3, "total": 3}),
        status="complete",
    )
    assert f"{words.sentence} → {words.result}" == (
        "Searched Tasks where Status is Review and Due is before 1 Jun 2024 → 3 records"
    )
