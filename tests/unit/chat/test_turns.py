"""A turn as the chat page runs it, without Reflex: set up, answered, recorded, stopped.

The model is the scripted LLM over real HTTP; `answer` also builds the real turn (the
user's stored token, the schema and the tools) against the Airtable emulator.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from sqlalchemy.engine import Engine
from sqlmodel import Session

from pyairtable_ui.airtable.connections import check_airtable_token, save_connection
from pyairtable_ui.auth.models import User
from pyairtable_ui.chat import agent, service, turns
from pyairtable_ui.chat.models import MessageStatus
from pyairtable_ui.core import tracing
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TOKEN_FULL
from tests.fakes.llm import Reply, ScriptedLLM, ToolCall
from tests.unit.chat.conftest import API_KEY, EventLog, FakeBaseTools, make_user
from tests.unit.conftest import REDIS_URL

MODEL = "openai/scripted-turns"
QUESTION = "Which tasks are still to do?"


class StoppableTools(FakeBaseTools):
    """The fake base, with the Stop the registry's tools have."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


@pytest.fixture
def llm_settings(scripted_llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """LLM_* settings pointing the app at the scripted LLM."""
    monkeypatch.setenv("LLM_API_BASE", scripted_llm.api_base)
    monkeypatch.setenv("LLM_API_KEY", API_KEY)
    monkeypatch.setenv("LLM_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("LLM_MAX_STEPS", "4")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def conversation_id(db: Session, ana: int) -> int:
    conversation = service.create_conversation(session=db, user_id=ana, base_id="appTasks")
    db.commit()
    assert conversation.id is not None
    return conversation.id


@pytest.fixture
def stoppable_tools() -> StoppableTools:
    return StoppableTools()


@pytest.fixture
def prepared(
    conversation_id: int, ana: int, session_factory: Any, stoppable_tools: StoppableTools
) -> turns.PreparedTurn:
    """A turn set up by hand (as `prepare_turn` would) on the fake base of tasks."""
    recorder = service.TurnRecorder(
        conversation_id=conversation_id, user_id=ana, model=MODEL, session_factory=session_factory
    )
    recorder.add_user_message(QUESTION)
    return turns.PreparedTurn(
        history=[{"role": "user", "content": QUESTION}],
        system_prompt="You help with the Tasks base.",
        tools=stoppable_tools,
        recorder=recorder,
        model=MODEL,
    )


def stored(session_factory: Any, conversation_id: int, user_id: int) -> list[tuple[str, str, str]]:
    with session_factory() as session:
        rows = service.list_messages(
            session=session, conversation_id=conversation_id, user_id=user_id
        )
        return [(row.role, row.status, row.content) for row in rows]


async def test_a_turn_is_answered_with_the_llm_settings_and_recorded_before_it_is_shown(
    llm_settings: None,
    scripted_llm: ScriptedLLM,
    prepared: turns.PreparedTurn,
    events: EventLog,
    session_factory: Any,
    conversation_id: int,
    ana: int,
) -> None:
    scripted_llm.queue(ToolCall("list_records", {"status": "Todo"}), "Two tasks are open.")
    rows_when_shown: dict[type, int] = {}

    async def show(event: agent.AgentEvent) -> None:
        rows_when_shown.setdefault(type(event), len(stored(session_factory, conversation_id, ana)))
        await events(event)

    outcome = await turns.run_turn(prepared, show, turn_key="tab-1")

    assert outcome == turns.TurnOutcome(started=True, stopped=False, error=None)
    assert events.of(agent.AssistantMessage)[-1].content == "Two tasks are open."
    assert "".join(d.text for d in events.of(agent.TextDelta)) == "Two tasks are open."
    assert stored(session_factory, conversation_id, ana) == [
        ("user", "complete", QUESTION),
        ("assistant", "complete", ""),
        ("tool", "complete", events.of(agent.ToolFinished)[0].content),
        ("assistant", "complete", "Two tasks are open."),
    ]
    # Each row is written before the page shows its event: user + assistant with the call.
    assert rows_when_shown[agent.AssistantMessage] == 2
    assert rows_when_shown[agent.ToolStarted] == 3
    first, second = scripted_llm.requests
    assert first["model"] == "scripted-turns" and first["auth"]["last4"] == API_KEY[-4:]
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "tool"]
    assert turns.stop_turn("tab-1") is False, "the turn left the Stop registry"


async def test_the_step_limit_comes_from_the_settings(
    llm_settings: None, scripted_llm: ScriptedLLM, prepared: turns.PreparedTurn, events: EventLog
) -> None:
    for _ in range(5):
        scripted_llm.queue(ToolCall("get_record", {"record_id": "rec1"}))

    outcome = await turns.run_turn(prepared, events, turn_key="tab-1")

    assert not outcome.stopped and outcome.error is None
    result = events.of(agent.TurnDone)[0].result
    assert result.steps == 4
    assert events.of(agent.AssistantMessage)[-1].content == agent.STEP_LIMIT_NOTICE.format(steps=4)


async def test_stop_cancels_the_model_and_the_tools_and_keeps_what_was_streamed(
    llm_settings: None,
    scripted_llm: ScriptedLLM,
    prepared: turns.PreparedTurn,
    stoppable_tools: StoppableTools,
    events: EventLog,
    session_factory: Any,
    conversation_id: int,
    ana: int,
) -> None:
    words = " ".join(f"word{i}" for i in range(400))
    scripted_llm.queue(Reply(content=words, chunk_delay=0.02))
    streaming = events.flag_on(agent.TextDelta)

    running = asyncio.create_task(turns.run_turn(prepared, events, turn_key="tab-1"))
    await asyncio.wait_for(streaming.wait(), 10)
    assert turns.stop_turn("tab-2") is False, "another tab's Stop does not reach this turn"
    assert turns.stop_turn("tab-1") is True
    outcome = await asyncio.wait_for(running, 10)

    assert outcome == turns.TurnOutcome(started=True, stopped=True, error=None)
    assert stoppable_tools.cancelled
    [stopped] = events.of(agent.TurnStopped)
    assert stopped.result.partial_text and words.startswith(stopped.result.partial_text)
    assert stored(session_factory, conversation_id, ana)[1:] == [
        ("assistant", MessageStatus.STOPPED.value, stopped.result.partial_text)
    ]
    assert turns.stop_turn("tab-1") is False


async def test_a_stop_from_inside_the_event_handler_ends_the_turn_as_stopped(
    llm_settings: None, scripted_llm: ScriptedLLM, prepared: turns.PreparedTurn, events: EventLog
) -> None:
    # The page does this when Stop was pressed in a tab now served by another worker.
    scripted_llm.queue(Reply(content=" ".join(f"word{i}" for i in range(400)), chunk_delay=0.02))

    async def show(event: agent.AgentEvent) -> None:
        await events(event)
        if isinstance(event, agent.TextDelta):
            turns.stop_turn("tab-1")

    outcome = await asyncio.wait_for(turns.run_turn(prepared, show, turn_key="tab-1"), 10)

    assert outcome.stopped and outcome.error is None
    assert len(events.of(agent.TurnStopped)) == 1


async def test_stopping_again_while_the_turn_reports_its_stop_does_not_cut_the_report(
    llm_settings: None,
    scripted_llm: ScriptedLLM,
    prepared: turns.PreparedTurn,
    stoppable_tools: StoppableTools,
    events: EventLog,
    session_factory: Any,
    conversation_id: int,
    ana: int,
) -> None:
    # Stop during a slow tool; the page stops again from its handler on every later event
    # (as it does for a tab now served by another worker), and a double click stops twice.
    scripted_llm.queue(ToolCall("slow_search", {}), "Never said.")
    stop_pressed = asyncio.Event()

    async def show(event: agent.AgentEvent) -> None:
        await events(event)
        if stop_pressed.is_set():
            assert turns.stop_turn("tab-1") is True, "a stopping turn is still running"

    running = asyncio.create_task(turns.run_turn(prepared, show, turn_key="tab-1"))
    await asyncio.wait_for(stoppable_tools.slow_started.wait(), 10)
    stop_pressed.set()
    assert turns.stop_turn("tab-1") is True
    assert turns.stop_turn("tab-1") is True
    outcome = await asyncio.wait_for(running, 10)

    assert outcome == turns.TurnOutcome(started=True, stopped=True, error=None)
    [finished] = events.of(agent.ToolFinished)
    assert finished.stopped and finished.name == "slow_search"
    assert isinstance(events.events[-1], agent.TurnStopped), "the page hears the turn stopped"
    assert stored(session_factory, conversation_id, ana)[1:3] == [
        ("assistant", "complete", ""),
        ("tool", MessageStatus.STOPPED.value, agent.STOPPED_TOOL_RESULT),
    ]
    assert turns.stop_turn("tab-1") is False


async def test_a_turn_whose_conversation_was_deleted_meanwhile_ends_with_a_message(
    llm_settings: None,
    scripted_llm: ScriptedLLM,
    prepared: turns.PreparedTurn,
    events: EventLog,
    session_factory: Any,
    conversation_id: int,
    ana: int,
) -> None:
    scripted_llm.queue("Two tasks are open.")

    async def show(event: agent.AgentEvent) -> None:
        await events(event)
        if isinstance(event, agent.StepStarted):  # deleted in another tab
            with session_factory() as session:
                service.delete_conversation(
                    session=session, conversation_id=conversation_id, user_id=ana
                )

    outcome = await turns.run_turn(prepared, show, turn_key="tab-1")

    assert outcome == turns.TurnOutcome(
        started=True, stopped=False, error=turns.TURN_FAILED_MESSAGE
    )
    assert events.of(agent.AssistantMessage) == [], "an answer that was not stored is not shown"
    assert turns.stop_turn("tab-1") is False


# --- answer: the real set-up ---------------------------------------------------------


@pytest.fixture
def airtable(
    airtable_emulator: AirtableEmulator, monkeypatch: pytest.MonkeyPatch, app_database: Engine
) -> AirtableEmulator:
    monkeypatch.setenv("AIRTABLE_API_URL", airtable_emulator.url)
    get_settings.cache_clear()
    return airtable_emulator


@pytest.fixture
def connected_user(airtable: AirtableEmulator, app_database: Engine) -> int:
    """A user whose stored token sees the emulator's Projects base."""
    check = check_airtable_token(TOKEN_FULL, api_url=airtable.url)
    with Session(app_database, expire_on_commit=False) as session:
        user_id = make_user(session, "cleo@example.com")
        user = session.get(User, user_id)
        assert user is not None
        save_connection(session=session, user=user, token=TOKEN_FULL, check=check)
        session.commit()
    return user_id


def request_for(user_id: int, conversation_id: int, question: str | None) -> turns.TurnRequest:
    return turns.TurnRequest(
        user_id=user_id,
        conversation_id=conversation_id,
        base_id=BASE_PROJECTS_ID,
        base_name="Emulator Projects",
        model=MODEL,
        question=question,
    )


async def test_answer_stores_the_question_reads_the_base_and_answers_through_the_tools(
    llm_settings: None,
    scripted_llm: ScriptedLLM,
    airtable: AirtableEmulator,
    connected_user: int,
    app_database: Engine,
    events: EventLog,
) -> None:
    with Session(app_database, expire_on_commit=False) as session:
        conversation = service.create_conversation(session=session, user_id=connected_user)
        session.commit()
    assert conversation.id is not None
    scripted_llm.queue(ToolCall("list_tables", {}), "The base has three tables.")

    outcome = await turns.answer(
        request_for(connected_user, conversation.id, "What is in this base?"),
        events,
        turn_key="tab-1",
    )

    assert outcome == turns.TurnOutcome()
    first = scripted_llm.requests[0]
    assert "Emulator Projects" in first["messages"][0]["content"]
    assert "Tasks" in first["messages"][0]["content"], "the schema is in the prompt"
    assert first["messages"][1:] == [{"role": "user", "content": "What is in this base?"}]
    [finished] = events.of(agent.ToolFinished)
    assert not finished.is_error and "Tasks" in finished.content
    with Session(app_database) as session:
        stored_conversation = service.get_conversation(
            session=session, conversation_id=conversation.id, user_id=connected_user
        )
        rows = service.list_messages(
            session=session, conversation_id=conversation.id, user_id=connected_user
        )
        assert (stored_conversation.base_id, stored_conversation.model) == (
            BASE_PROJECTS_ID,
            MODEL,
        )
        assert (rows[0].role, rows[0].content) == ("user", "What is in this base?")
        assert rows[-1].content == "The base has three tables."


async def test_answer_without_an_airtable_connection_does_not_start(
    llm_settings: None, scripted_llm: ScriptedLLM, app_database: Engine, events: EventLog
) -> None:
    with Session(app_database, expire_on_commit=False) as session:
        user_id = make_user(session, "dan@example.com")
        conversation = service.create_conversation(session=session, user_id=user_id)
        session.commit()
    assert conversation.id is not None

    outcome = await turns.answer(
        request_for(user_id, conversation.id, "Hello?"), events, turn_key="tab-1"
    )

    assert outcome == turns.TurnOutcome(
        started=False, error="Connect your Airtable account first, in Settings."
    )
    assert events.events == [] and scripted_llm.requests == []


async def test_answer_in_someone_elses_conversation_does_not_start(
    llm_settings: None,
    scripted_llm: ScriptedLLM,
    airtable: AirtableEmulator,
    connected_user: int,
    app_database: Engine,
    events: EventLog,
) -> None:
    with Session(app_database, expire_on_commit=False) as session:
        other = make_user(session, "eve@example.com")
        conversation = service.create_conversation(session=session, user_id=other)
        session.commit()
    assert conversation.id is not None

    outcome = await turns.answer(
        request_for(connected_user, conversation.id, "Hello?"), events, turn_key="tab-1"
    )

    assert not outcome.started
    assert outcome.error == service.ConversationNotFoundError.default_message
    assert scripted_llm.requests == [] and events.events == []


# --- Stop from another process, through Redis ---------------------------------------------


@pytest.fixture
def redis_url(redis_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """REDIS_URL set for the app (the turn registry reads it), on the test Redis."""
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    get_settings.cache_clear()
    yield REDIS_URL
    get_settings.cache_clear()


async def test_a_stop_sent_in_another_process_cancels_the_turn_here_at_once(
    llm_settings: None,
    redis_url: str,
    scripted_llm: ScriptedLLM,
    prepared: turns.PreparedTurn,
    stoppable_tools: StoppableTools,
    events: EventLog,
) -> None:
    # The model has not started answering (the case that waited 20 s for the next event):
    # the Stop arrives at another worker, whose registry does not hold the turn.
    scripted_llm.queue(Reply(content="Never shown.", delay_before=30))
    here = turns.turn_registry()
    elsewhere = turns.TurnRegistry(redis_url)
    key = f"tab-{uuid.uuid4().hex}"  # Redis channels are shared by every run on the server

    running = asyncio.create_task(turns.run_turn(prepared, events, turn_key=key))
    await asyncio.to_thread(scripted_llm.wait_for_requests, 1, 60)  # litellm loads first
    assert here.listener is not None
    assert await asyncio.to_thread(here.listener.subscribed.wait, 5)
    # The other process's Stop runs on its own thread, as on its own event loop.
    sent = time.monotonic()
    assert await asyncio.to_thread(elsewhere.stop, key) is False, "not running over there"
    outcome = await asyncio.wait_for(running, 10)
    took = time.monotonic() - sent
    elsewhere.close()

    assert outcome == turns.TurnOutcome(started=True, stopped=True, error=None)
    assert took < 1.0, f"the Stop took {took:.2f} s to reach the turn"
    assert stoppable_tools.cancelled
    assert len(events.of(agent.TurnStopped)) == 1
    assert not events.of(agent.TextDelta)


async def test_without_redis_a_stop_for_a_turn_elsewhere_is_not_sent_anywhere(
    llm_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()

    assert turns.stop_turn("tab-elsewhere") is False
    assert turns.turn_registry().listener is None


# --- traces ---------------------------------------------------------------------------------


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The app's spans, kept in memory as each ends (tracing is off again afterwards)."""
    exporter = InMemorySpanExporter()
    assert tracing.configure_tracing(None, exporter=exporter, batch=False)
    yield exporter
    tracing.configure_tracing(None)


async def test_a_turn_is_traced_as_one_tree_of_model_calls_tools_and_airtable_requests(
    llm_settings: None,
    scripted_llm: ScriptedLLM,
    airtable: AirtableEmulator,
    connected_user: int,
    app_database: Engine,
    events: EventLog,
    spans: InMemorySpanExporter,
) -> None:
    with Session(app_database, expire_on_commit=False) as session:
        conversation = service.create_conversation(session=session, user_id=connected_user)
        session.commit()
    assert conversation.id is not None
    scripted_llm.queue(
        ToolCall("search_records", {"table": "Tasks"}),
        ToolCall("create_records", {"table": "Tasks", "records": [{"fields": {"Name": "Plan"}}]}),
        "I proposed one new task.",
    )

    outcome = await turns.answer(
        request_for(connected_user, conversation.id, "Add a task."), events, turn_key="tab-1"
    )

    assert outcome == turns.TurnOutcome()
    finished = spans.get_finished_spans()
    [turn] = [s for s in finished if s.name == "chat.turn"]
    children = [s for s in finished if s.parent and s.parent.span_id == turn.context.span_id]
    assert [s.name for s in sorted(children, key=lambda s: s.start_time)] == [
        "llm.call",
        "tool.call",
        "llm.call",
        "tool.call",
        "llm.call",
    ]
    assert {s.context.trace_id for s in finished if s.name != "airtable.request"} == {
        turn.context.trace_id
    }
    assert turn.attributes["pyairtable_ui.conversation_id"] == conversation.id
    assert turn.attributes["pyairtable_ui.outcome"] == "answered"
    search, create = sorted(
        (s for s in children if s.name == "tool.call"), key=lambda s: s.start_time
    )
    assert search.attributes["gen_ai.tool.name"] == "search_records"
    [action_id] = [e.action_id for e in events.of(agent.ToolFinished) if e.action_id]
    assert create.attributes["pyairtable_ui.action_id"] == action_id
    # The search's Airtable request (run on the tool's thread) is the tool's child.
    reads = [s for s in finished if s.parent and s.parent.span_id == search.context.span_id]
    assert reads and {s.name for s in reads} == {"airtable.request"}
    assert reads[0].attributes["http.request.method"] == "GET"
    assert reads[0].attributes["http.response.status_code"] == 200
    assert "tblEmuTasks000001" in str(reads[0].attributes["url.path"])
    last_call = max((s for s in children if s.name == "llm.call"), key=lambda s: s.start_time)
    assert last_call.attributes["gen_ai.usage.output_tokens"] > 0
    assert last_call.attributes["gen_ai.request.model"] == MODEL
    # Nothing a user wrote or Airtable holds is on a span.
    text = " ".join(str(v) for s in finished for v in (s.attributes or {}).values())
    assert "Add a task" not in text and "Plan" not in text and TOKEN_FULL not in text


async def test_a_failed_model_call_is_a_failed_span_under_its_turn(
    llm_settings: None,
    scripted_llm: ScriptedLLM,
    prepared: turns.PreparedTurn,
    events: EventLog,
    spans: InMemorySpanExporter,
) -> None:
    scripted_llm.queue(Reply(error=(401, "Incorrect API key provided.")))

    await turns.run_turn(prepared, events, turn_key="tab-1")

    by_name = {s.name: s for s in spans.get_finished_spans()}
    failed = by_name["llm.call"]
    assert failed.parent is not None
    assert failed.parent.span_id == by_name["chat.turn"].context.span_id
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "AuthenticationError"


def _spent(engine: Engine, conversation_id: int, usd: float) -> None:
    from pyairtable_ui.chat.models import Message

    with Session(engine) as session:
        session.add(
            Message(conversation_id=conversation_id, role="assistant", content="x", cost_usd=usd)
        )
        session.commit()


def _limits(engine: Engine, *, instance: float | None, per_user: float | None) -> None:
    from pyairtable_ui.core.instance_settings import LLM_BUDGET_KEY, write_setting

    with Session(engine) as session:
        value = {"instance_usd": instance, "per_user_usd": per_user}
        write_setting(session, LLM_BUDGET_KEY, value, by=None)
        session.commit()


@pytest.mark.parametrize(
    ("instance", "per_user", "reason"),
    [
        (None, 0.50, "Your LLM budget for"),
        (0.50, None, "This instance's LLM budget for"),
    ],
)
async def test_a_turn_over_an_llm_budget_is_refused_with_the_reason(
    llm_settings: None,
    scripted_llm: ScriptedLLM,
    airtable: AirtableEmulator,
    connected_user: int,
    app_database: Engine,
    events: EventLog,
    instance: float | None,
    per_user: float | None,
    reason: str,
) -> None:
    with Session(app_database, expire_on_commit=False) as session:
        conversation = service.create_conversation(session=session, user_id=connected_user)
        session.commit()
    assert conversation.id is not None
    _limits(app_database, instance=instance, per_user=per_user)
    _spent(app_database, conversation.id, 0.30)
    scripted_llm.queue("Within budget.")
    assert (
        await turns.answer(
            request_for(connected_user, conversation.id, "One?"), events, turn_key="tab-1"
        )
    ).started

    _spent(app_database, conversation.id, 0.25)  # now $0.55 of $0.50
    outcome = await turns.answer(
        request_for(connected_user, conversation.id, "Two?"), events, turn_key="tab-1"
    )
    assert not outcome.started and outcome.error and reason in outcome.error
    assert "$0.55 of $0.50" in outcome.error and "admin raises it" in outcome.error
    assert len(scripted_llm.requests) == 1  # the refused turn never reached the model
