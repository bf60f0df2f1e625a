"""A turn end to end: agent over the scripted LLM, rows written by TurnRecorder, history
read back for the next turn, as the chat page drives it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from pyairtable_ui.actions.models import Action
from pyairtable_ui.chat import service
from pyairtable_ui.chat.agent import AgentEvent, TextDelta, ToolOutcome, TurnResult, run_turn
from pyairtable_ui.chat.service import TurnRecorder
from pyairtable_ui.core.db import make_engine
from tests.fakes.llm import Reply, ScriptedLLM, ToolCall
from tests.unit.chat.conftest import API_KEY, EventLog, FakeBaseTools

MODEL = "openai/scripted-recording"
SYSTEM = "You help with the Tasks base."


async def ask(
    llm: ScriptedLLM,
    tools: FakeBaseTools,
    recorder: TurnRecorder,
    question: str | None,
    session_factory: Any,
    events: EventLog | None = None,
) -> TurnResult:
    """One turn the way the page runs it: store the question, rebuild history, run, record."""
    if question is not None:
        await asyncio.to_thread(recorder.add_user_message, question)
    with session_factory() as session:
        history = service.history_for_llm(
            session=session, conversation_id=recorder.conversation_id, user_id=recorder.user_id
        )
    log = events or EventLog()

    async def on_event(event: AgentEvent) -> None:
        if not isinstance(event, TextDelta):  # streamed text stays in the UI until complete
            await asyncio.to_thread(recorder.record, event)
        await log(event)

    return await run_turn(
        history=history,
        system_prompt=SYSTEM,
        tools=tools,
        model=MODEL,
        api_base=llm.api_base,
        api_key=API_KEY,
        timeout=5.0,
        max_steps=5,
        on_event=on_event,
    )


@pytest.fixture
def conversation_id(db: Session, ana: int) -> int:
    conversation = service.create_conversation(session=db, user_id=ana, base_id="appTasks")
    db.commit()
    assert conversation.id is not None
    return conversation.id


def recorder_for(conversation_id: int, user_id: int, session_factory: Any) -> TurnRecorder:
    return TurnRecorder(
        conversation_id=conversation_id,
        user_id=user_id,
        model=MODEL,
        session_factory=session_factory,
    )


async def test_a_turn_is_stored_and_the_next_turn_sees_it_after_a_restart(
    scripted_llm: ScriptedLLM,
    tools: FakeBaseTools,
    migrated_engine: Engine,
    session_factory: Any,
    conversation_id: int,
    ana: int,
) -> None:
    scripted_llm.queue(
        Reply(
            tool_calls=[ToolCall("list_records", {"status": "Todo"}, id="call_1")],
            usage={"prompt_tokens": 300, "completion_tokens": 20},
        ),
        Reply(content="Two tasks are to do.", usage={"prompt_tokens": 400, "completion_tokens": 8}),
    )
    first = recorder_for(conversation_id, ana, session_factory)
    await ask(scripted_llm, tools, first, "Which tasks are to do?", session_factory)

    # A "restart": a new engine on the same database reads the rows back.
    restarted = make_engine(migrated_engine.url.render_as_string(hide_password=False))
    try:
        with Session(restarted) as fresh:
            rows = service.list_messages(
                session=fresh, conversation_id=conversation_id, user_id=ana
            )
            usage = service.turn_usage(session=fresh, conversation_id=conversation_id, user_id=ana)
            conversation = service.get_conversation(
                session=fresh, conversation_id=conversation_id, user_id=ana
            )
    finally:
        restarted.dispose()
    assert [(r.role, r.status) for r in rows] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("tool", "complete"),
        ("assistant", "complete"),
    ]
    assert conversation.title == "Which tasks are to do?"
    assert rows[1].tool_calls[0]["id"] == "call_1"
    assert rows[2].tool_arguments == {"status": "Todo"}
    assert rows[2].airtable_calls == 1 and rows[2].duration_ms is not None
    assert rows[3].content == "Two tasks are to do." and rows[3].model == MODEL
    [turn] = usage
    assert (turn.prompt_tokens, turn.completion_tokens, turn.airtable_calls) == (700, 28, 1)
    assert turn.cost_usd is None  # the scripted model has no price

    scripted_llm.queue("Ana owns both.")
    second = recorder_for(conversation_id, ana, session_factory)
    await ask(scripted_llm, tools, second, "Who owns them?", session_factory)

    sent = scripted_llm.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert sent[2]["tool_calls"][0]["id"] == sent[3]["tool_call_id"] == "call_1"
    assert json.loads(sent[3]["content"])["records"][0]["id"] == "rec1"
    assert sent[-1] == {"role": "user", "content": "Who owns them?"}


async def test_regenerate_answers_the_same_question_again(
    scripted_llm: ScriptedLLM,
    tools: FakeBaseTools,
    db: Session,
    session_factory: Any,
    conversation_id: int,
    ana: int,
) -> None:
    scripted_llm.queue("A poor answer.", "A better answer.")
    recorder = recorder_for(conversation_id, ana, session_factory)
    await ask(scripted_llm, tools, recorder, "Summarise the tasks.", session_factory)

    question = service.delete_last_answer(session=db, conversation_id=conversation_id, user_id=ana)
    db.commit()
    assert question is not None and question.content == "Summarise the tasks."
    await ask(scripted_llm, tools, recorder, None, session_factory)

    rows = service.list_messages(session=db, conversation_id=conversation_id, user_id=ana)
    assert [(r.role, r.content) for r in rows] == [
        ("user", "Summarise the tasks."),
        ("assistant", "A better answer."),
    ]
    assert scripted_llm.requests[-1]["messages"][-1] == {
        "role": "user",
        "content": "Summarise the tasks.",
    }


async def test_a_stopped_turn_is_stored_as_stopped_and_history_stays_valid(
    scripted_llm: ScriptedLLM,
    tools: FakeBaseTools,
    db: Session,
    session_factory: Any,
    conversation_id: int,
    ana: int,
) -> None:
    scripted_llm.queue(ToolCall("slow_search", {}, id="call_slow"))
    recorder = recorder_for(conversation_id, ana, session_factory)

    turn = asyncio.create_task(
        ask(scripted_llm, tools, recorder, "Search slowly.", session_factory)
    )
    await asyncio.wait_for(tools.slow_started.wait(), timeout=10)
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn

    rows = service.list_messages(session=db, conversation_id=conversation_id, user_id=ana)
    assert [(r.role, r.status) for r in rows] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("tool", "stopped"),
    ]
    history = service.history_for_llm(session=db, conversation_id=conversation_id, user_id=ana)
    assert history[-1]["tool_call_id"] == "call_slow"
    assert "Stopped by the user" in history[-1]["content"]


async def test_stopping_mid_answer_keeps_the_partial_text(
    scripted_llm: ScriptedLLM,
    tools: FakeBaseTools,
    db: Session,
    session_factory: Any,
    conversation_id: int,
    ana: int,
) -> None:
    text = " ".join(f"word{i}" for i in range(100))
    scripted_llm.queue(Reply(content=text, chunk_delay=0.05))
    recorder = recorder_for(conversation_id, ana, session_factory)
    events = EventLog()
    some_text = events.flag_on(TextDelta)

    turn = asyncio.create_task(
        ask(scripted_llm, tools, recorder, "Tell me everything.", session_factory, events)
    )
    await asyncio.wait_for(some_text.wait(), timeout=10)
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn

    last = service.list_messages(session=db, conversation_id=conversation_id, user_id=ana)[-1]
    assert (last.role, last.status) == ("assistant", "stopped")
    assert last.content and text.startswith(last.content)


async def test_a_failed_turn_shows_its_error_and_is_left_out_of_the_history(
    scripted_llm: ScriptedLLM,
    tools: FakeBaseTools,
    db: Session,
    session_factory: Any,
    conversation_id: int,
    ana: int,
) -> None:
    scripted_llm.queue(Reply(error=401))
    recorder = recorder_for(conversation_id, ana, session_factory)

    await ask(scripted_llm, tools, recorder, "Hello?", session_factory)

    last = service.list_messages(session=db, conversation_id=conversation_id, user_id=ana)[-1]
    assert (last.role, last.status) == ("assistant", "failed")
    assert last.error == "The LLM provider rejected the API key. An admin should check LLM_API_KEY."
    history = service.history_for_llm(session=db, conversation_id=conversation_id, user_id=ana)
    assert history == [{"role": "user", "content": "Hello?"}]


async def test_a_proposed_action_is_linked_to_its_tool_message(
    scripted_llm: ScriptedLLM,
    db: Session,
    session_factory: Any,
    conversation_id: int,
    ana: int,
) -> None:
    action = Action(
        user_id=ana, conversation_id=conversation_id, tool_name="update_records", base_id="appTasks"
    )
    db.add(action)
    db.commit()

    class ProposingTools(FakeBaseTools):
        async def call(self, name: str, raw_arguments: str, call_id: str) -> ToolOutcome:
            return ToolOutcome(content="Proposed; waiting for the user.", action_id=action.id)

    scripted_llm.queue(ToolCall("update_records", {"status": "Done"}), "I proposed the change.")
    recorder = recorder_for(conversation_id, ana, session_factory)

    await ask(scripted_llm, ProposingTools(), recorder, "Mark all done.", session_factory)

    tool_row = next(
        r
        for r in service.list_messages(session=db, conversation_id=conversation_id, user_id=ana)
        if r.role == "tool"
    )
    db.expire_all()
    assert db.get(Action, action.id).message_id == tool_row.id
