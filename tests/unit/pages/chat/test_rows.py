"""What the chat page's rows say: messages, errors, tool steps, usage lines, the lists."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pyairtable_ui.actions.models import Action
from pyairtable_ui.actions.rows import action_items
from pyairtable_ui.airtable.connections import BaseAccess
from pyairtable_ui.chat.models import Conversation, Message
from pyairtable_ui.chat.service import TurnUsage
from pyairtable_ui.pages.chat.rows import (
    DATE_GROUPS,
    MAX_CHART_GROUPS,
    address_conversation_id,
    aggregate_chart,
    assistant_item,
    base_items,
    conversation_items,
    date_group,
    duration_text,
    empty_tally,
    error_item,
    item_from_row,
    items_from_rows,
    last_answer_index,
    last_question_index,
    record_cards,
    running_step_item,
    short_arguments,
    step_status,
    tally_add,
    tally_text,
    through_last_question,
    usage_text,
    user_item,
    with_actions,
    with_last_turn,
    with_step_finished,
)


def test_durations_read_in_milliseconds_then_seconds() -> None:
    assert duration_text(None) == ""
    assert duration_text(850) == "850 ms"
    assert duration_text(999) == "999 ms"
    assert duration_text(2430) == "2.4 s"


def test_usage_names_tokens_then_cost_and_airtable_calls_when_known() -> None:
    assert usage_text(1200, 34, None) == "1,234 tokens"
    assert usage_text(1200, 34, 0.00123) == "1,234 tokens · $0.0012"
    assert usage_text(10, 5, None, 1) == "15 tokens · 1 Airtable call"
    assert usage_text(10, 5, 0.5, 3) == "15 tokens · $0.5000 · 3 Airtable calls"


def test_a_turns_use_is_added_up_and_an_unknown_price_makes_its_cost_unknown() -> None:
    tally = tally_add(empty_tally(), 100, 20, 0.001, 1)
    tally = tally_add(tally, calls=2)
    assert tally_text(tally) == "120 tokens · $0.0010 · 3 Airtable calls"
    assert tally_text(tally_add(tally, 1, 1, None)) == "122 tokens · 3 Airtable calls"
    assert tally_text(empty_tally()) == ""


def test_the_last_answers_details_come_from_the_stored_turn() -> None:
    usage = TurnUsage(
        prompt_tokens=100,
        completion_tokens=20,
        cost_usd=None,
        airtable_calls=2,
        tool_calls=1,
    )
    rows = [user_item("Q?"), assistant_item("A.", "complete", "1 tokens")]

    assert with_last_turn(rows, usage)[1]["meta"] == "120 tokens · 2 Airtable calls"
    assert with_last_turn(rows, None) == rows
    assert with_last_turn(rows[:1], usage) == rows[:1]


def test_tool_arguments_are_indented_json_cut_at_2000_characters() -> None:
    assert short_arguments(None) == "" and short_arguments({}) == ""
    assert short_arguments({"table": "Tâches"}) == '{\n  "table": "Tâches"\n}'
    assert short_arguments('{"limit": 5}') == '{\n  "limit": 5\n}'
    assert short_arguments('{"raw": true') == '{"raw": true', "not JSON: shown as sent"
    long = short_arguments({"formula": "x" * 4000})
    assert len(long) == 1998 and long.endswith("…")


def test_a_stored_answer_shows_its_tokens_and_cost_but_not_its_airtable_calls() -> None:
    row = Message(
        id=7,
        conversation_id=1,
        role="assistant",
        content="Two tasks are open.",
        status="complete",
        prompt_tokens=100,
        completion_tokens=20,
        cost_usd=0.001,
        airtable_calls=3,
    )

    item = item_from_row(row)

    assert item["id"] == 7 and item["role"] == "assistant"
    assert item["content"] == "Two tasks are open."
    assert item["meta"] == "120 tokens · $0.0010"
    assert item["summary"] == "" and item["arguments"] == ""


def test_a_failed_answer_shows_as_an_error_with_its_message() -> None:
    failed = Message(
        id=8,
        conversation_id=1,
        role="assistant",
        content="Partial",
        status="failed",
        error="The LLM provider is rate limiting us. Wait a moment and try again.",
    )
    no_error_text = Message(
        id=9, conversation_id=1, role="assistant", content="Partial", status="failed"
    )

    assert item_from_row(failed)["role"] == "error"
    assert item_from_row(failed)["content"].startswith("The LLM provider is rate limiting")
    assert item_from_row(no_error_text)["content"] == "Partial"


def test_a_stored_tool_step_shows_its_call_arguments_duration_and_result() -> None:
    row = Message(
        id=9,
        conversation_id=1,
        role="tool",
        content="r" * 300,
        status="complete",
        tool_call_id="call_1",
        tool_name="list_records",
        tool_arguments={"table": "Tasks"},
        duration_ms=1500,
    )

    item = item_from_row(row)

    assert (item["role"], item["call_id"], item["tool_name"]) == ("tool", "call_1", "list_records")
    assert item["arguments"] == '{\n  "table": "Tasks"\n}'
    assert item["duration"] == "1.5 s"
    assert item["summary"] == "r" * 160
    assert item["meta"] == ""


def test_the_question_answer_and_error_rows_of_a_running_turn() -> None:
    assert user_item("Which tasks?") == {
        "id": 0,
        "role": "user",
        "content": "Which tasks?",
        "status": "complete",
        "call_id": "",
        "tool_name": "",
        "arguments": "",
        "duration": "",
        "summary": "",
        "meta": "",
        "action_id": 0,
        "chart": [],
        "chart_title": "",
        "sentence": "",
        "result": "",
        "cards": [],
    }
    answer = assistant_item("Done.", "stopped", "5 tokens")
    assert (answer["role"], answer["status"], answer["meta"]) == (
        "assistant",
        "stopped",
        "5 tokens",
    )
    error = error_item("Try again.")
    assert (error["role"], error["status"], error["content"]) == ("error", "failed", "Try again.")


def test_a_tool_step_runs_then_finishes_in_place() -> None:
    question = user_item("Open tasks?")
    first = running_step_item("call_1", "search_records", '{"table": "Tasks"}')
    second = running_step_item("call_2", "get_record", '{"record_id": "rec1"}')
    assert (first["status"], first["arguments"]) == ("running", '{\n  "table": "Tasks"\n}')
    assert (first["sentence"], first["result"]) == ("Searched Tasks", "")
    assert second["sentence"] == "Open a record (arguments it could not use)"

    items = with_step_finished(
        [question, first, second],
        call_id="call_2",
        status=step_status(stopped=False, is_error=True),
        duration_ms=40,
        summary="s" * 200,
    )

    assert items[:2] == [question, first]
    assert (items[2]["status"], items[2]["duration"]) == ("failed", "40 ms")
    assert items[2]["summary"] == "s" * 160
    assert items[2]["result"] == "did not work; the assistant was told why"
    assert step_status(stopped=True, is_error=True) == "stopped"
    assert step_status(stopped=False, is_error=False) == "complete"


def test_regenerating_keeps_the_rows_up_to_the_last_question() -> None:
    rows = [
        user_item("First?"),
        assistant_item("One.", "complete"),
        user_item("Second?"),
        running_step_item("call_1", "list_records", "{}"),
        assistant_item("Two.", "complete"),
    ]

    assert through_last_question(rows) == rows[:3]
    assert through_last_question([assistant_item("Hi.", "complete")]) == []


def test_only_the_answer_to_the_last_question_is_the_answer_to_redo() -> None:
    # Rows added live all have id 0: the position tells the last answer, not the id.
    first_answer = assistant_item("One.", "complete")
    second_answer = assistant_item("Two.", "complete")
    rows = [
        user_item("First?"),
        first_answer,
        user_item("Second?"),
        running_step_item("call_1", "list_records", "{}"),
        second_answer,
    ]
    assert first_answer["id"] == second_answer["id"] == 0

    assert last_answer_index(rows) == 4
    assert last_answer_index(rows[:4]) == -1, "the last question has no answer yet"
    assert last_answer_index(rows[:3]) == -1
    assert last_answer_index(rows[:2]) == 1
    assert last_answer_index([]) == -1
    # A failed answer is its partial text then its error: the error is the one to retry.
    failed = [user_item("Third?"), assistant_item("Par", "failed"), error_item("Try again.")]
    assert last_answer_index(rows + failed) == 7
    # A step after the answer (the model went on, then was stopped) does not hide it.
    assert last_answer_index([*rows, running_step_item("call_2", "get_record", "{}")]) == 4


def test_only_the_last_question_is_the_one_to_edit() -> None:
    rows = [
        user_item("First?"),
        assistant_item("One.", "complete"),
        user_item("Second?"),
        running_step_item("call_1", "list_records", "{}"),
        assistant_item("Two.", "complete"),
    ]
    assert last_question_index(rows) == 2
    assert last_question_index(rows[:2]) == 0
    assert last_question_index([*rows, error_item("Try again.")]) == 2
    assert last_question_index([assistant_item("Hi.", "complete")]) == -1
    assert last_question_index([]) == -1


def test_the_conversation_and_base_lists() -> None:
    updated = datetime(2025, 3, 4, 15, 6, tzinfo=UTC)
    conversations = [Conversation(id=3, user_id=1, title="Open tasks", updated_at=updated)]
    bases = [BaseAccess(id="appA", name="Projects", permission_level="create")]

    assert conversation_items(conversations, now=updated) == [
        {
            "id": 3,
            "title": "Open tasks",
            "updated": "Mar 04, 15:06",
            "group": "Today",
            "first_in_group": True,
        }
    ]
    assert base_items(bases) == [{"id": "appA", "name": "Projects"}]


def tool_row(message_id: int, call_id: str, tool: str = "update_records") -> Message:
    return Message(
        id=message_id,
        conversation_id=1,
        role="tool",
        content="Proposed action #4",
        status="complete",
        tool_call_id=call_id,
        tool_name=tool,
    )


def test_a_proposal_card_attaches_to_the_step_that_proposed_it() -> None:
    question = Message(id=10, conversation_id=1, role="user", content="Rename", status="complete")
    read = tool_row(11, "call_1", "list_records")
    write = tool_row(12, "call_2")
    answer = Message(
        id=13, conversation_id=1, role="assistant", content="Review it.", status="complete"
    )
    actions = action_items(
        [
            # Proposed again from the same step ("Review them again"): the card of the
            # first action's step, not a second step.
            Action(id=9, user_id=1, tool_name="update_records", base_id="a", message_id=12),
            Action(id=4, user_id=1, tool_name="update_records", base_id="a", message_id=12),
            # A rename offered by undo: proposed outside any step.
            Action(id=5, user_id=1, tool_name="rename_table", base_id="a", message_id=None),
            # Its step is older than the messages on screen.
            Action(id=3, user_id=1, tool_name="create_records", base_id="a", message_id=2),
        ]
    )
    items = with_actions([item_from_row(r) for r in (question, read, write, answer)], actions)

    assert [i["action_id"] for i in items] == [0, 0, 4, 0]
    # The page shows, under the step, every action tied to it.
    assert [a["id"] for a in actions if a["step_action"] == items[2]["action_id"]] == [9, 4]


def test_a_step_of_the_running_turn_keeps_the_action_its_event_reported() -> None:
    step = running_step_item("call_1", "update_records", "{}")
    finished = with_step_finished(
        [step], call_id="call_1", status="complete", duration_ms=5, summary="ok", action_id=4
    )
    assert finished[0]["action_id"] == 4
    # Rows added while the page is open have id 0: no stored action claims them.
    stored = action_items(
        [Action(id=7, user_id=1, tool_name="update_records", base_id="a", message_id=99)]
    )
    assert with_actions(finished, stored)[0]["action_id"] == 4
    assert (
        with_step_finished(
            [step], call_id="call_1", status="complete", duration_ms=5, summary="ok"
        )[0]["action_id"]
        == 0
    )


def test_conversations_are_grouped_by_day_each_heading_once() -> None:
    now = datetime(2025, 3, 10, 0, 30, tzinfo=UTC)
    ages = [
        ("just now", timedelta(minutes=5)),
        ("after midnight", timedelta(minutes=29)),
        ("before midnight", timedelta(minutes=31)),
        ("two days", timedelta(days=2)),
        ("a week", timedelta(days=7)),
        ("eight days", timedelta(days=8)),
        ("last year", timedelta(days=400)),
    ]
    conversations = [
        Conversation(id=i, user_id=1, title=title, updated_at=now - age)
        for i, (title, age) in enumerate(ages)
    ]

    items = conversation_items(conversations, now=now)

    assert [(i["title"], i["group"]) for i in items] == [
        ("just now", "Today"),
        ("after midnight", "Today"),
        ("before midnight", "Yesterday"),
        ("two days", "Previous 7 days"),
        ("a week", "Previous 7 days"),
        ("eight days", "Older"),
        ("last year", "Older"),
    ]
    assert [i["title"] for i in items if i["first_in_group"]] == [
        "just now",
        "before midnight",
        "two days",
        "eight days",
    ]
    assert set(DATE_GROUPS) == {i["group"] for i in items}
    # Another time zone's offset on a stored time does not move it to another day.
    evening = datetime(2025, 3, 9, 23, 0, tzinfo=timezone(timedelta(hours=5)))
    assert date_group(evening, now.date()) == "Yesterday"
    assert conversation_items([]) == []


def test_the_address_names_a_conversation_by_its_id_or_none() -> None:
    assert address_conversation_id(None) == 0
    assert address_conversation_id("12") == 12
    assert address_conversation_id("0012") == 12
    for garbage in ("", "abc", "-3", "1.5", "²", "٣", "9" * 19, "12 "):
        assert address_conversation_id(garbage) == -1, garbage


def _grouped(groups: list[Any], **extra: Any) -> str:
    result = {"table": "Tasks", "op": "sum", "field": "Estimate", "group_by": "Project"}
    return json.dumps({**result, "groups_total": len(groups), "groups": groups, **extra})


def test_a_grouped_aggregate_becomes_bars_of_plain_labels_and_numbers() -> None:
    content = _grouped(
        [
            {"group": "<img src=x onerror=alert(1)>", "value": 24, "records": 3},
            {"group": "Website", "value": 7.5, "records": 2},
            {"group": "(empty)", "value": 0, "records": 1},
        ]
    )

    rows, title = aggregate_chart("aggregate", content)

    assert rows == [
        {"label": "<img src=x onerror=alert(1)>", "value": 24},
        {"label": "Website", "value": 7.5},
        {"label": "(empty)", "value": 0},
    ]
    assert title == "sum of Estimate by Project"
    count = json.dumps(
        {
            "op": "count",
            "field": None,
            "group_by": "Done",
            "groups": [{"group": "checked", "value": 2}],
        }
    )
    assert aggregate_chart("aggregate", count) == (
        [{"label": "checked", "value": 2}],
        "count by Done",
    )


def test_many_groups_are_cut_to_the_largest_and_long_labels_shortened() -> None:
    groups = [{"group": f"G{i}" + "x" * 60, "value": 100 - i} for i in range(45)]

    rows, title = aggregate_chart("aggregate", _grouped(groups))

    assert len(rows) == MAX_CHART_GROUPS
    assert rows[0]["value"] == 100
    assert len(rows[0]["label"]) == 40 and rows[0]["label"].endswith("…")
    assert title.endswith(f"(top {MAX_CHART_GROUPS} of 45)")


def test_anything_but_a_grouped_numeric_aggregate_draws_no_chart() -> None:
    good = [{"group": "A", "value": 1}]
    nothing: tuple[list[Any], str] = ([], "")
    for tool_name, content in [
        ("search_records", _grouped(good)),  # another tool
        ("aggregate", json.dumps({"op": "sum", "value": 36})),  # not grouped
        ("aggregate", _grouped([])),
        ("aggregate", "Unknown field 'Owner'."),  # an error text
        ("aggregate", "[1, 2]"),
        ("aggregate", ""),
        ("aggregate", _grouped([{"group": "A", "value": "2026-01-01"}])),  # min of a date
        ("aggregate", _grouped([*good, {"group": "B", "value": None}])),  # avg of nothing
        ("aggregate", _grouped([{"group": "A", "value": True}])),
        ("aggregate", _grouped([{"group": 3, "value": 1}])),
        ("aggregate", _grouped(["A"])),
        ("aggregate", _grouped(good).replace("1}", "NaN}")),
        ("aggregate", json.dumps({"groups": {"A": 1}})),
    ]:
        assert aggregate_chart(tool_name, content) == nothing, content


def test_a_grouped_aggregate_step_carries_its_chart_live_and_when_stored() -> None:
    content = _grouped([{"group": "Website", "value": 24}, {"group": "App", "value": 12}])
    running = running_step_item("call_1", "aggregate", "{}")

    done = with_step_finished(
        [running], call_id="call_1", status="complete", duration_ms=5, summary="", content=content
    )[0]
    failed = with_step_finished(
        [running], call_id="call_1", status="stopped", duration_ms=5, summary="", content=content
    )[0]
    stored = item_from_row(
        Message(
            id=3,
            conversation_id=1,
            role="tool",
            content=content,
            status="complete",
            tool_call_id="call_1",
            tool_name="aggregate",
        )
    )

    assert running["chart"] == []
    assert [r["label"] for r in done["chart"]] == ["Website", "App"]
    assert done["chart_title"] == "sum of Estimate by Project"
    assert failed["chart"] == []
    assert (stored["chart"], stored["chart_title"]) == (done["chart"], done["chart_title"])


def _search_result(count: int, **extra: Any) -> str:
    records = [
        {
            "id": f"recTask{n:010d}",
            "fields": {
                "Notes": "",
                "Name": f"Task {n}",
                "Tags": ["a", "b"],
                "Done": False,
                "Estimate": n,
                "Owner": "Ana",
                "Extra": "not shown",
            },
        }
        for n in range(1, count + 1)
    ]
    return json.dumps(
        {
            "table": "Tasks",
            "table_id": "tblEmuTasks000001",
            "primary_field": "Name",
            "records": records,
            **extra,
        }
    )


def test_a_few_records_found_become_cards_that_link_to_airtable() -> None:
    cards = record_cards("search_records", _search_result(2), "appEmulatorBase02")

    assert [c["title"] for c in cards] == ["Task 1", "Task 2"]
    assert cards[0]["url"] == (
        "https://airtable.com/appEmulatorBase02/tblEmuTasks000001/recTask0000000001"
    )
    # The primary field is the title; then up to four fields with a value, as text.
    assert cards[0]["fields"] == [
        {"name": "Tags", "value": "a, b"},
        {"name": "Done", "value": "—"},
        {"name": "Estimate", "value": "1"},
        {"name": "Owner", "value": "Ana"},
    ]


def test_cards_only_for_a_few_records_and_links_only_from_real_ids() -> None:
    assert record_cards("search_records", _search_result(11), "appEmulatorBase02") == []
    assert record_cards("search_records", _search_result(0), "appEmulatorBase02") == []
    assert record_cards("aggregate", _search_result(1), "appEmulatorBase02") == []
    assert record_cards("search_records", "not json", "appEmulatorBase02") == []
    # A base id that is not Airtable's shape (or none): cards, but no link.
    assert record_cards("search_records", _search_result(1), "javascript:x")[0]["url"] == ""
    forged = _search_result(1).replace("recTask0000000001", "https://evil.example/x")
    card = record_cards("search_records", forged, "appEmulatorBase02")[0]
    assert card["url"] == "" and card["record_id"] == "https://evil.example/x"
    one = json.dumps(
        {
            "table": "Tasks",
            "table_id": "tblEmuTasks000001",
            "primary_field": "Name",
            "id": "recTask0000000003",
            "fields": {"Name": "<b>Three</b>"},
        }
    )
    got = record_cards("get_record", one, "appEmulatorBase02")
    assert got[0]["title"] == "<b>Three</b>", "content stays text (the page shows it as text)"
    assert got[0]["url"].endswith("/tblEmuTasks000001/recTask0000000003")


def test_tool_only_answers_show_no_line_their_use_goes_to_the_answer() -> None:
    def message(n: int, role: str, content: str = "", **kw: Any) -> Message:
        return Message(id=n, conversation_id=1, role=role, content=content, **kw)

    rows = [
        message(1, "user", "Open tasks?"),
        message(2, "assistant", "", prompt_tokens=4000, completion_tokens=43, airtable_calls=1),
        message(
            3,
            "tool",
            _search_result(1, returned=1, total=1),
            tool_name="search_records",
            tool_arguments={"table": "Tasks"},
            airtable_calls=2,
        ),
        message(4, "assistant", "One task.", prompt_tokens=100, completion_tokens=7),
    ]

    items = items_from_rows(rows, "appEmulatorBase02")

    assert [i["role"] for i in items] == ["user", "tool", "assistant"]
    assert items[1]["sentence"] == "Searched Tasks" and items[1]["result"] == "1 record"
    assert items[1]["cards"][0]["title"] == "Task 1"
    assert items[2]["meta"] == "4,150 tokens · 3 Airtable calls"
