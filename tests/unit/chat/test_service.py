"""Conversations and messages on a real, migrated database (SQLite or PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pyairtable_ui.actions.models import Action, ActionStatus
from pyairtable_ui.chat import service
from pyairtable_ui.chat.models import Conversation, Message, MessageRole, MessageStatus
from pyairtable_ui.chat.service import (
    DEFAULT_TITLE,
    STOPPED_TOOL_PLACEHOLDER,
    UNFINISHED_TOOL_PLACEHOLDER,
    ConversationNotFoundError,
    InvalidTitleError,
    MessageNotFoundError,
)
from pyairtable_ui.core.db import utcnow


def new_conversation(db: Session, user_id: int, **kwargs: Any) -> int:
    conversation = service.create_conversation(session=db, user_id=user_id, **kwargs)
    db.commit()
    assert conversation.id is not None
    return conversation.id


def add(db: Session, conversation_id: int, user_id: int, role: str, **kwargs: Any) -> Message:
    message = service.add_message(
        session=db, conversation_id=conversation_id, user_id=user_id, role=role, **kwargs
    )
    db.commit()
    return message


def call(call_id: str, name: str = "list_records", arguments: str = "{}") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def assert_valid_tool_pairing(history: list[dict[str, Any]]) -> None:
    """What providers require: tool calls answered at once, one tool message per call."""
    position = 0
    while position < len(history):
        message = history[position]
        assert message["role"] != "tool", f"tool message without its call at {position}"
        calls = message.get("tool_calls") or []
        following = history[position + 1 : position + 1 + len(calls)]
        assert [m.get("tool_call_id") for m in following] == [c["id"] for c in calls]
        position += 1 + len(calls)


# --- conversations -----------------------------------------------------------------


def test_conversations_are_listed_newest_activity_first(db: Session, ana: int) -> None:
    first = new_conversation(db, ana)
    second = new_conversation(db, ana)
    add(db, first, ana, "user", content="Newer activity here")

    listed = service.list_conversations(session=db, user_id=ana)

    assert [c.id for c in listed] == [first, second]
    assert len(service.list_conversations(session=db, user_id=ana, limit=1)) == 1


def test_the_first_question_titles_the_conversation(db: Session, ana: int) -> None:
    conversation_id = new_conversation(db, ana)
    question = "Which deals closed this month, grouped by owner and sorted by amount please?"

    add(db, conversation_id, ana, "user", content=question)
    add(db, conversation_id, ana, "user", content="And last month?")

    title = service.get_conversation(session=db, conversation_id=conversation_id, user_id=ana).title
    assert title == service.title_from_first_message(question)
    assert title.startswith("Which deals closed this month") and title.endswith("…")
    assert len(title) <= 60


def test_title_from_first_message_keeps_short_text_and_flattens_lines():
    assert service.title_from_first_message("  Add a task\nfor Ana  ") == "Add a task for Ana"
    assert service.title_from_first_message("   ") == DEFAULT_TITLE


def test_rename_trims_and_checks_length(db: Session, ana: int) -> None:
    conversation_id = new_conversation(db, ana)

    renamed = service.rename_conversation(
        session=db, conversation_id=conversation_id, user_id=ana, title="  Q3 pipeline  "
    )
    assert renamed.title == "Q3 pipeline"
    assert (
        service.rename_conversation(
            session=db, conversation_id=conversation_id, user_id=ana, title="x" * 200
        ).title
        == "x" * 200
    )
    for bad in ["", "   ", "x" * 201]:
        with pytest.raises(InvalidTitleError):
            service.rename_conversation(
                session=db, conversation_id=conversation_id, user_id=ana, title=bad
            )


def test_a_renamed_empty_conversation_keeps_its_title(db: Session, ana: int) -> None:
    conversation_id = new_conversation(db, ana)
    service.rename_conversation(
        session=db, conversation_id=conversation_id, user_id=ana, title="Budget"
    )

    add(db, conversation_id, ana, "user", content="What is left in the budget?")

    assert (
        service.get_conversation(session=db, conversation_id=conversation_id, user_id=ana).title
        == "Budget"
    )


def test_search_finds_conversations_by_title_or_by_what_was_said(
    db: Session, ana: int, ben: int
) -> None:
    budget = new_conversation(db, ana, title="Budget review")
    movers = new_conversation(db, ana)
    add(db, movers, ana, "user", content="Who books the MOVERS?")
    add(db, movers, ana, "assistant", content="Ana books the movers on Friday.")
    tool_only = new_conversation(db, ana)
    add(db, tool_only, ana, "tool", content="zebra in a tool result", tool_call_id="c1")
    percent = new_conversation(db, ana, title="100% done")
    theirs = new_conversation(db, ben)
    add(db, theirs, ben, "user", content="movers for Ben")

    def found(search: str, user_id: int = ana) -> list[int]:
        listed = service.list_conversations(session=db, user_id=user_id, search=search)
        return sorted(c.id or 0 for c in listed)

    assert found("budget") == [budget]
    assert found("  movers ") == [movers], "any case, trimmed; only Ana's"
    assert found("friday") == [movers], "an answer's text counts too"
    assert found("zebra") == [], "tool payloads are not what the person read"
    assert found("%") == [percent] and found("_") == [], "wildcards are literal"
    assert found("") == sorted([budget, movers, tool_only, percent])
    assert found("movers", ben) == [theirs]
    service.delete_conversation(session=db, conversation_id=movers, user_id=ana)
    assert found("movers") == []


def test_delete_is_soft_and_hides_the_conversation(db: Session, ana: int) -> None:
    conversation_id = new_conversation(db, ana)
    add(db, conversation_id, ana, "user", content="hello")

    service.delete_conversation(session=db, conversation_id=conversation_id, user_id=ana)
    db.commit()

    assert service.list_conversations(session=db, user_id=ana) == []
    stored = db.get(Conversation, conversation_id)
    assert stored is not None and stored.deleted_at is not None
    assert (
        len(db.exec(select(Message).where(Message.conversation_id == conversation_id)).all()) == 1
    )
    with pytest.raises(ConversationNotFoundError):
        service.get_conversation(session=db, conversation_id=conversation_id, user_id=ana)
    with pytest.raises(ConversationNotFoundError):
        add(db, conversation_id, ana, "user", content="still there?")
    with pytest.raises(ConversationNotFoundError):
        service.delete_conversation(session=db, conversation_id=conversation_id, user_id=ana)


def test_undo_brings_a_deleted_conversation_back_for_its_owner_only(
    db: Session, ana: int, ben: int
) -> None:
    conversation_id = new_conversation(db, ana, title="Kept")
    add(db, conversation_id, ana, "user", content="hello")
    kwargs: dict[str, Any] = {"session": db, "conversation_id": conversation_id}
    with pytest.raises(ConversationNotFoundError):
        service.restore_conversation(**kwargs, user_id=ana)  # not deleted
    service.delete_conversation(**kwargs, user_id=ana)
    db.commit()

    with pytest.raises(ConversationNotFoundError):
        service.restore_conversation(**kwargs, user_id=ben)
    service.restore_conversation(**kwargs, user_id=ana)
    db.commit()

    assert [c.id for c in service.list_conversations(session=db, user_id=ana)] == [conversation_id]
    assert [m.content for m in service.list_messages(**kwargs, user_id=ana)] == ["hello"]


def test_another_users_conversation_is_not_found(db: Session, ana: int, ben: int) -> None:
    conversation_id = new_conversation(db, ana)
    message = add(db, conversation_id, ana, "user", content="private question")
    kwargs: dict[str, Any] = {"session": db, "conversation_id": conversation_id, "user_id": ben}

    assert service.list_conversations(session=db, user_id=ben) == []
    with pytest.raises(ConversationNotFoundError):
        service.get_conversation(**kwargs)
    with pytest.raises(ConversationNotFoundError):
        service.list_messages(**kwargs)
    with pytest.raises(ConversationNotFoundError):
        service.history_for_llm(**kwargs)
    with pytest.raises(ConversationNotFoundError):
        service.rename_conversation(**kwargs, title="mine now")
    with pytest.raises(ConversationNotFoundError):
        service.delete_conversation(**kwargs)
    with pytest.raises(ConversationNotFoundError):
        service.add_message(**kwargs, role="user", content="hi")
    with pytest.raises(ConversationNotFoundError):
        service.delete_last_answer(**kwargs)
    with pytest.raises(MessageNotFoundError):
        service.update_message(session=db, message_id=message.id, user_id=ben, content="changed")
    assert db.get(Message, message.id).content == "private question"
    assert service.get_conversation(session=db, conversation_id=conversation_id, user_id=ana)


def test_base_and_model_are_remembered(db: Session, ana: int) -> None:
    conversation_id = new_conversation(db, ana, base_id="appOne", model="openai/a")

    service.set_conversation_context(
        session=db, conversation_id=conversation_id, user_id=ana, base_id="appTwo", model="openai/b"
    )
    db.commit()

    stored = service.get_conversation(session=db, conversation_id=conversation_id, user_id=ana)
    assert (stored.base_id, stored.model) == ("appTwo", "openai/b")


# --- messages ------------------------------------------------------------------------


def test_messages_keep_every_field(db: Session, ana: int) -> None:
    conversation_id = new_conversation(db, ana)
    tool = add(
        db,
        conversation_id,
        ana,
        "tool",
        status=MessageStatus.RUNNING,
        tool_call_id="call_1",
        tool_name="get_record",
        tool_arguments='{"record_id": "rec1"',
    )

    service.update_message(
        session=db,
        message_id=tool.id,
        user_id=ana,
        status=MessageStatus.FAILED,
        content="The arguments are not valid JSON.",
        airtable_calls=0,
        duration_ms=12,
    )
    db.commit()
    assistant = add(
        db,
        conversation_id,
        ana,
        MessageRole.ASSISTANT,
        content="Done.",
        model="openai/gpt-4o-mini",
        prompt_tokens=100,
        completion_tokens=20,
        cost_usd=0.0001,
        airtable_calls=2,
        duration_ms=800,
    )

    stored_tool, stored_assistant = service.list_messages(
        session=db, conversation_id=conversation_id, user_id=ana
    )
    assert stored_tool.status == "failed" and stored_tool.duration_ms == 12
    assert stored_tool.tool_arguments == {"raw": '{"record_id": "rec1"'}
    assert (stored_tool.tool_call_id, stored_tool.tool_name) == ("call_1", "get_record")
    assert stored_assistant.id == assistant.id
    assert (stored_assistant.prompt_tokens, stored_assistant.completion_tokens) == (100, 20)
    assert stored_assistant.cost_usd == pytest.approx(0.0001)
    assert stored_assistant.airtable_calls == 2
    with pytest.raises(ValueError):
        service.add_message(session=db, conversation_id=conversation_id, user_id=ana, role="system")


def test_history_rebuilds_tool_calls_and_their_results(db: Session, ana: int) -> None:
    cid = new_conversation(db, ana)
    add(db, cid, ana, "user", content="Open tasks?")
    calls = [call("call_1", arguments='{"status": "Todo"}'), call("call_2", "get_record")]
    add(db, cid, ana, "assistant", content="Looking.", tool_calls=calls)
    add(db, cid, ana, "tool", tool_call_id="call_1", tool_name="list_records", content="[rec1]")
    add(
        db,
        cid,
        ana,
        "tool",
        tool_call_id="call_2",
        tool_name="get_record",
        content="{rec1}",
        status="failed",
    )
    add(db, cid, ana, "assistant", content="One open task.")

    history = service.history_for_llm(session=db, conversation_id=cid, user_id=ana)

    assert history == [
        {"role": "user", "content": "Open tasks?"},
        {"role": "assistant", "content": "Looking.", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_1", "content": "[rec1]"},
        {"role": "tool", "tool_call_id": "call_2", "content": "{rec1}"},
        {"role": "assistant", "content": "One open task."},
    ]


def test_history_skips_rows_that_would_break_the_sequence(db: Session, ana: int) -> None:
    cid = new_conversation(db, ana)
    add(db, cid, ana, "user", content="first")
    add(db, cid, ana, "assistant", content="half an ans", status="failed", error="timeout")
    add(db, cid, ana, "user", content="second")
    add(db, cid, ana, "assistant", content="I was saying", status="stopped")
    add(db, cid, ana, "user", content="third")
    add(db, cid, ana, "assistant", tool_calls=[call("c1"), call("c2"), call("c3")])
    add(db, cid, ana, "tool", tool_call_id="c1", content="done one")
    add(db, cid, ana, "tool", tool_call_id="c2", status="stopped", content="")
    # c3 never started: the user pressed Stop during c2.
    add(db, cid, ana, "tool", tool_call_id="stray", content="nobody asked")
    add(db, cid, ana, "assistant", content="", status="stopped")
    add(db, cid, ana, "assistant", content="still streaming", status="streaming")

    history = service.history_for_llm(session=db, conversation_id=cid, user_id=ana)

    assert_valid_tool_pairing(history)
    assert history == [
        {"role": "user", "content": "first"},
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": "I was saying"},
        {"role": "user", "content": "third"},
        {"role": "assistant", "content": None, "tool_calls": [call("c1"), call("c2"), call("c3")]},
        {"role": "tool", "tool_call_id": "c1", "content": "done one"},
        {"role": "tool", "tool_call_id": "c2", "content": STOPPED_TOOL_PLACEHOLDER},
        {"role": "tool", "tool_call_id": "c3", "content": UNFINISHED_TOOL_PLACEHOLDER},
    ]


def test_history_pairs_interleaved_rows_of_two_tabs(db: Session, ana: int) -> None:
    cid = new_conversation(db, ana)
    # Tab A asks and its model calls a tool; tab B asks meanwhile and is answered first.
    add(db, cid, ana, "user", content="A: list tasks")
    add(db, cid, ana, "assistant", tool_calls=[call("call_a")])
    add(db, cid, ana, "user", content="B: hello")
    add(db, cid, ana, "assistant", content="B: hi")
    add(db, cid, ana, "tool", tool_call_id="call_a", content="A's records")
    add(db, cid, ana, "assistant", content="A: three tasks")

    history = service.history_for_llm(session=db, conversation_id=cid, user_id=ana)

    assert_valid_tool_pairing(history)
    assert history[1:3] == [
        {"role": "assistant", "content": None, "tool_calls": [call("call_a")]},
        {"role": "tool", "tool_call_id": "call_a", "content": "A's records"},
    ]
    assert [m["content"] for m in history[3:]] == ["B: hello", "B: hi", "A: three tasks"]


def test_history_pairs_repeated_call_ids_with_their_own_turn(db: Session, ana: int) -> None:
    # Some providers number calls per response ("call_0"), so ids repeat across turns.
    cid = new_conversation(db, ana)
    for turn in ("one", "two"):
        add(db, cid, ana, "user", content=turn)
        add(db, cid, ana, "assistant", tool_calls=[call("call_0")])
        add(db, cid, ana, "tool", tool_call_id="call_0", content=f"result {turn}")
        add(db, cid, ana, "assistant", content=f"answer {turn}")

    history = service.history_for_llm(session=db, conversation_id=cid, user_id=ana)

    assert_valid_tool_pairing(history)
    assert [m["content"] for m in history if m["role"] == "tool"] == ["result one", "result two"]


def test_history_can_keep_only_the_last_turns(db: Session, ana: int) -> None:
    cid = new_conversation(db, ana)
    for n in range(4):
        add(db, cid, ana, "user", content=f"q{n}")
        add(db, cid, ana, "assistant", content=f"a{n}")

    history = service.history_for_llm(session=db, conversation_id=cid, user_id=ana, max_turns=2)

    assert [m["content"] for m in history] == ["q2", "a2", "q3", "a3"]


def test_regenerate_removes_the_last_answer_only(db: Session, ana: int) -> None:
    cid = new_conversation(db, ana)
    add(db, cid, ana, "user", content="q1")
    kept = add(db, cid, ana, "assistant", content="a1")
    question = add(db, cid, ana, "user", content="q2")
    add(db, cid, ana, "assistant", tool_calls=[call("c")])
    add(db, cid, ana, "tool", tool_call_id="c", content="r")
    add(db, cid, ana, "assistant", content="a2 (bad)")

    returned = service.delete_last_answer(session=db, conversation_id=cid, user_id=ana)
    db.commit()

    assert returned is not None and returned.id == question.id and returned.content == "q2"
    remaining = service.list_messages(session=db, conversation_id=cid, user_id=ana)
    assert [m.content for m in remaining] == ["q1", "a1", "q2"]
    assert remaining[1].id == kept.id
    history = service.history_for_llm(session=db, conversation_id=cid, user_id=ana)
    assert history[-1] == {"role": "user", "content": "q2"}


def test_regenerate_without_a_question_does_nothing(db: Session, ana: int) -> None:
    cid = new_conversation(db, ana)

    assert service.delete_last_answer(session=db, conversation_id=cid, user_id=ana) is None


def test_an_edited_question_replaces_the_last_exchange_and_its_proposal_waits(
    db: Session, ana: int
) -> None:
    cid = new_conversation(db, ana)
    add(db, cid, ana, "user", content="q1")
    add(db, cid, ana, "assistant", content="a1")
    add(db, cid, ana, "user", content="Mark them all done")
    add(db, cid, ana, "assistant", tool_calls=[call("c", "update_records")])
    step = add(db, cid, ana, "tool", tool_call_id="c", content="Proposed.")
    add(db, cid, ana, "assistant", content="Review it.")
    waiting = Action(
        user_id=ana, conversation_id=cid, message_id=step.id, tool_name="u", base_id="a"
    )
    decided = Action(
        user_id=ana,
        conversation_id=cid,
        message_id=step.id,
        tool_name="u",
        base_id="a",
        status=ActionStatus.REJECTED.value,
    )
    db.add_all([waiting, decided])
    db.commit()

    dropped = service.delete_last_exchange(session=db, conversation_id=cid, user_id=ana)
    db.commit()

    assert dropped is not None and dropped.question == "Mark them all done"
    assert dropped.waiting_action_ids == (waiting.id,)
    remaining = service.list_messages(session=db, conversation_id=cid, user_id=ana)
    assert [m.content for m in remaining] == ["q1", "a1"]
    db.expire_all()
    # Still the conversation's, still waiting: reviewable, never applied by the edit.
    kept = db.get(Action, waiting.id)
    assert kept is not None and kept.conversation_id == cid and kept.message_id is None
    assert kept.status == ActionStatus.PROPOSED.value


def test_editing_needs_a_question_and_the_owner(db: Session, ana: int, ben: int) -> None:
    cid = new_conversation(db, ana)
    assert service.delete_last_exchange(session=db, conversation_id=cid, user_id=ana) is None
    add(db, cid, ana, "user", content="mine")
    with pytest.raises(ConversationNotFoundError):
        service.delete_last_exchange(session=db, conversation_id=cid, user_id=ben)
    assert [
        m.content for m in service.list_messages(session=db, conversation_id=cid, user_id=ana)
    ] == ["mine"]


def test_turn_usage_sums_each_turn(db: Session, ana: int) -> None:
    cid = new_conversation(db, ana)
    add(db, cid, ana, "user", content="q1", airtable_calls=1)  # the schema fetch
    add(
        db,
        cid,
        ana,
        "assistant",
        tool_calls=[call("c")],
        prompt_tokens=100,
        completion_tokens=10,
        cost_usd=0.001,
    )
    add(db, cid, ana, "tool", tool_call_id="c", content="r", airtable_calls=2)
    add(
        db,
        cid,
        ana,
        "assistant",
        content="a1",
        prompt_tokens=150,
        completion_tokens=30,
        cost_usd=0.002,
    )
    add(db, cid, ana, "user", content="q2")
    add(db, cid, ana, "assistant", content="a2", prompt_tokens=200, completion_tokens=5)

    first, second = service.turn_usage(session=db, conversation_id=cid, user_id=ana)

    assert (first.prompt_tokens, first.completion_tokens) == (250, 40)
    assert first.cost_usd == pytest.approx(0.003)
    assert (first.airtable_calls, first.tool_calls) == (3, 1)
    assert (second.prompt_tokens, second.cost_usd, second.airtable_calls) == (200, None, 0)


def test_rows_left_unfinished_by_a_dead_process_are_closed(db: Session, ana: int) -> None:
    cid = new_conversation(db, ana)
    old = add(db, cid, ana, "tool", tool_call_id="c", status="running")
    old.created_at = utcnow() - timedelta(hours=1)
    db.add(old)
    db.commit()
    recent = add(db, cid, ana, "assistant", status="streaming")

    closed = service.close_interrupted_messages(session=db, older_than=timedelta(minutes=10))
    db.commit()

    assert closed == 1
    db.expire_all()
    assert db.get(Message, old.id).status == "failed"
    assert db.get(Message, recent.id).status == "streaming"


def test_two_tabs_writing_one_conversation_lose_nothing(
    migrated_engine: Engine, db: Session, ana: int
) -> None:
    cid = new_conversation(db, ana)
    errors: list[BaseException] = []

    def tab(name: str) -> None:
        # Each write in its own short transaction, as TurnRecorder does.
        try:
            for n in range(8):
                with Session(migrated_engine) as session:
                    service.add_message(
                        session=session,
                        conversation_id=cid,
                        user_id=ana,
                        role="user",
                        content=f"{name}{n}",
                    )
                    session.commit()
                with Session(migrated_engine) as session:
                    row = service.add_message(
                        session=session,
                        conversation_id=cid,
                        user_id=ana,
                        role="assistant",
                        status="streaming",
                        tool_calls=[call(f"{name}-{n}")],
                    )
                    session.commit()
                    row_id = row.id
                with Session(migrated_engine) as session:
                    service.add_message(
                        session=session,
                        conversation_id=cid,
                        user_id=ana,
                        role="tool",
                        tool_call_id=f"{name}-{n}",
                        content=f"{name} result {n}",
                    )
                    service.update_message(
                        session=session, message_id=row_id, user_id=ana, status="complete"
                    )
                    session.commit()
        except BaseException as exc:  # surfaced to the test below
            errors.append(exc)

    threads = [threading.Thread(target=tab, args=(name,)) for name in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    rows = service.list_messages(session=db, conversation_id=cid, user_id=ana)
    assert len(rows) == 2 * 8 * 3
    assert all(r.status == "complete" for r in rows)
    history = service.history_for_llm(session=db, conversation_id=cid, user_id=ana)
    assert_valid_tool_pairing(history)
    for name in ("A", "B"):
        assert [
            m["content"] for m in history if m["role"] == "user" and m["content"].startswith(name)
        ] == [f"{name}{n}" for n in range(8)]
        assert [
            m["content"] for m in history if m["role"] == "tool" and m["content"].startswith(name)
        ] == [f"{name} result {n}" for n in range(8)]
