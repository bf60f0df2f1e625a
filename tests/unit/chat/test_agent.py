"""The agent loop against the scripted LLM over real HTTP, with a real async fake base."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import litellm
import pytest

from pyairtable_ui.chat.agent import (
    STEP_LIMIT_NOTICE,
    AssistantMessage,
    StepStarted,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnError,
    TurnResult,
    TurnStopped,
    Usage,
    run_turn,
)
from pyairtable_ui.llm.client import estimate_cost
from tests.fakes.llm import Reply, ScriptedLLM, ToolCall
from tests.unit.chat.conftest import API_KEY, EventLog, FakeBaseTools

MODEL = "openai/scripted-agent"
SYSTEM = "You help with the Tasks base."
QUESTION = [{"role": "user", "content": "Which tasks are still to do?"}]


async def answer(
    llm: ScriptedLLM,
    tools: FakeBaseTools,
    events: EventLog,
    history: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> TurnResult:
    params: dict[str, Any] = {
        "history": history if history is not None else QUESTION,
        "system_prompt": SYSTEM,
        "tools": tools,
        "model": MODEL,
        "api_base": llm.api_base,
        "api_key": API_KEY,
        "timeout": 5.0,
        "max_steps": 5,
        "on_event": events,
        "retry_delay": 0.01,
    }
    params.update(overrides)
    return await run_turn(**params)


def tasks_left_by_the_turn(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Tasks started since ``before`` that are still pending, leaving out generator closers.

    When the garbage collector finds an async generator that was not closed (litellm and
    httpx keep some inside their stream wrappers), asyncio schedules its ``aclose()`` as a
    task of its own at that moment, which can be any line of the test. Such a task belongs
    to the collector, not to the turn: a tool or stream the turn left running still counts.
    """
    return {
        task
        for task in asyncio.all_tasks() - before
        if type(task.get_coro()).__name__ != "async_generator_athrow"
    }


def tool_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in request["messages"] if m["role"] == "tool"]


# --- answers and tools -------------------------------------------------------------


async def test_plain_answer_streams_in_batches_and_records_usage(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    text = " ".join(f"word{i}" for i in range(60))
    scripted_llm.queue(
        Reply(
            content=text, chunk_delay=0.005, usage={"prompt_tokens": 120, "completion_tokens": 61}
        )
    )

    result = await answer(scripted_llm, tools, events)

    deltas = events.of(TextDelta)
    assert "".join(d.text for d in deltas) == text
    # Batched: several updates, but far fewer than the 60 streamed words.
    assert 2 <= len(deltas) < 40
    assert result.error is None
    assert (result.steps, result.prompt_tokens, result.completion_tokens) == (1, 120, 61)
    [message] = events.of(AssistantMessage)
    assert (message.content, message.tool_calls) == (text, None)
    assert (message.prompt_tokens, message.completion_tokens) == (120, 61)
    assert events.of(Usage)[-1] == Usage(prompt_tokens=120, completion_tokens=61, cost_usd=None)
    assert isinstance(events.events[0], StepStarted)
    assert isinstance(events.events[-1], TurnDone) and events.events[-1].result is result

    [request] = scripted_llm.requests
    assert request["stream"] is True
    assert request["stream_options"] == {"include_usage": True}
    assert request["messages"][0] == {"role": "system", "content": SYSTEM}
    assert request["messages"][1:] == QUESTION
    assert [t["function"]["name"] for t in request["tools"]] == [
        "list_records",
        "get_record",
        "slow_search",
        "broken_tool",
    ]


async def test_tool_chain_feeds_results_back_in_order(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    scripted_llm.queue(
        Reply(
            content="Let me look.",
            tool_calls=[ToolCall("list_records", {"status": "Todo"}, id="call_a")],
        ),
        ToolCall("get_record", {"record_id": "rec3"}, id="call_b"),
        "Two tasks are to do; **Ship beta** is Ana's.",
    )
    history = list(QUESTION)

    result = await answer(scripted_llm, tools, events, history=history)

    assert events.of(AssistantMessage)[-1].content == "Two tasks are to do; **Ship beta** is Ana's."
    assert [(name, call_id) for name, _, call_id in tools.received] == [
        ("list_records", "call_a"),
        ("get_record", "call_b"),
    ]
    first, second, third = scripted_llm.requests
    assert tool_messages(first) == []
    [assistant, tool] = second["messages"][-2:]
    assert assistant["content"] == "Let me look."
    assert assistant["tool_calls"][0]["id"] == "call_a"
    assert assistant["tool_calls"][0]["function"]["name"] == "list_records"
    assert tool["tool_call_id"] == "call_a"
    assert [r["id"] for r in json.loads(tool["content"])["records"]] == ["rec1", "rec3"]
    assert [m["tool_call_id"] for m in tool_messages(third)] == ["call_a", "call_b"]
    assert json.loads(tool_messages(third)[1]["content"])["Name"] == "Ship beta"
    assert third["messages"][-2]["tool_calls"][0]["id"] == "call_b"

    # Each step is reported live, the assistant message before its tools run.
    kinds = [type(e).__name__ for e in events.events if not isinstance(e, TextDelta | Usage)]
    assert kinds == [
        "StepStarted",
        "AssistantMessage",
        "ToolStarted",
        "ToolFinished",
        "StepStarted",
        "AssistantMessage",
        "ToolStarted",
        "ToolFinished",
        "StepStarted",
        "AssistantMessage",
        "TurnDone",
    ]
    started = events.of(ToolStarted)
    assert json.loads(started[0].arguments_text) == {"status": "Todo"}
    finished = events.of(ToolFinished)
    assert finished[0].summary == "2 tasks"
    assert all(not f.is_error and f.duration_ms >= 5 and f.airtable_calls == 1 for f in finished)
    assert result.airtable_calls == 2
    assert events.of(AssistantMessage)[-1].airtable_calls == 0  # all attributed to tools
    assert [m["role"] for m in result.new_messages] == [
        "assistant",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]
    assert history == QUESTION  # the caller's list is not modified


async def test_parallel_tool_calls_each_get_their_result(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    scripted_llm.queue(
        Reply(
            tool_calls=[
                ToolCall("get_record", {"record_id": "rec1"}, id="call_1"),
                ToolCall("get_record", {"record_id": "rec2"}, id="call_2"),
            ]
        ),
        "Both found.",
    )

    await answer(scripted_llm, tools, events)

    second = scripted_llm.requests[1]
    assert [c["id"] for c in second["messages"][-3]["tool_calls"]] == ["call_1", "call_2"]
    assert [m["tool_call_id"] for m in second["messages"][-2:]] == ["call_1", "call_2"]
    assert [json.loads(m["content"])["id"] for m in second["messages"][-2:]] == ["rec1", "rec2"]


async def test_invalid_json_arguments_reach_the_tool_raw_and_the_model_corrects_itself(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    broken = '{"record_id": "rec1"'
    scripted_llm.queue(
        ToolCall("get_record", broken, id="call_bad"),
        ToolCall("get_record", {"record_id": "rec1"}, id="call_good"),
        "Write spec is to do.",
    )

    result = await answer(scripted_llm, tools, events)

    assert tools.received[0] == ("get_record", broken, "call_bad")
    assert result.error is None
    assert events.of(AssistantMessage)[-1].content == "Write spec is to do."
    first_result = tool_messages(scripted_llm.requests[1])[0]
    assert first_result["tool_call_id"] == "call_bad"
    assert "not valid JSON" in first_result["content"]
    assert [f.is_error for f in events.of(ToolFinished)] == [True, False]


async def test_unknown_tool_name_goes_back_to_the_model(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    scripted_llm.queue(ToolCall("drop_all_tables", {}, id="call_x"), "I can't do that.")

    await answer(scripted_llm, tools, events)

    assert events.of(AssistantMessage)[-1].content == "I can't do that."
    [finished] = events.of(ToolFinished)
    assert finished.is_error and finished.name == "drop_all_tables"
    assert "Unknown tool 'drop_all_tables'" in tool_messages(scripted_llm.requests[1])[0]["content"]


async def test_a_tool_that_raises_is_reported_to_the_model_and_the_turn_goes_on(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    scripted_llm.queue(ToolCall("broken_tool", {}), "That tool is broken.")

    await answer(scripted_llm, tools, events)

    assert events.of(AssistantMessage)[-1].content == "That tool is broken."
    content = tool_messages(scripted_llm.requests[1])[0]["content"]
    assert "broken_tool failed unexpectedly (RuntimeError)" in content


async def test_step_cap_stops_the_turn_with_a_notice(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    scripted_llm.queue(Reply(tool_calls=[ToolCall("list_records", {})], repeat=10))

    result = await answer(scripted_llm, tools, events, max_steps=3)

    assert len(scripted_llm.requests) == 3
    assert len(tools.received) == 3  # the last step's tools ran, so the history stays paired
    notice = events.of(AssistantMessage)[-1]
    assert notice.content == "I stopped after 3 steps; ask me to continue."
    assert notice.content == STEP_LIMIT_NOTICE.format(steps=3)
    assert [m["role"] for m in result.new_messages[-3:]] == ["assistant", "tool", "assistant"]
    assert isinstance(events.events[-1], TurnDone)


# --- usage and cost ------------------------------------------------------------------


async def test_cost_is_recorded_for_a_model_with_known_prices(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    scripted_llm.queue(
        Reply(content="Hi.", usage={"prompt_tokens": 1000, "completion_tokens": 500})
    )

    result = await answer(scripted_llm, tools, events, model="openai/gpt-4o-mini")

    prompt_cost, completion_cost = litellm.cost_per_token(
        model="openai/gpt-4o-mini", prompt_tokens=1000, completion_tokens=500
    )
    assert result.cost_usd == pytest.approx(prompt_cost + completion_cost)
    assert result.cost_usd > 0
    assert events.of(AssistantMessage)[0].cost_usd == pytest.approx(result.cost_usd)


async def test_cost_is_none_for_an_unknown_model_without_raising(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    scripted_llm.queue(Reply(content="Hi.", usage={"prompt_tokens": 10, "completion_tokens": 5}))

    result = await answer(scripted_llm, tools, events, model="openai/scripted-no-price")

    assert result.cost_usd is None
    assert (result.prompt_tokens, result.completion_tokens) == (10, 5)
    assert estimate_cost("openai/scripted-no-price", 10, 5) is None
    assert estimate_cost("no-provider-at-all", 10, 5) is None


# --- stop ----------------------------------------------------------------------------


async def test_stop_during_a_slow_stream_returns_fast_with_the_partial_text(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    text = " ".join(f"word{i}" for i in range(200))
    scripted_llm.queue(Reply(content=text, chunk_delay=0.05))
    some_text = events.flag_on(TextDelta)
    tasks_before = asyncio.all_tasks()

    turn = asyncio.create_task(answer(scripted_llm, tools, events))
    await asyncio.wait_for(some_text.wait(), timeout=10)
    await asyncio.sleep(0.2)
    pressed = time.monotonic()
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    # The rest of the stream would take about 9 s; a busy machine may need a few.
    assert time.monotonic() - pressed < 5.0

    [stopped] = events.of(TurnStopped)
    partial = stopped.result.partial_text
    assert stopped.result.stopped
    assert partial and text.startswith(partial) and len(partial) < len(text)
    assert "".join(d.text for d in events.of(TextDelta)) in partial
    assert not events.of(AssistantMessage) and not events.of(TurnDone)
    assert not tasks_left_by_the_turn(tasks_before)
    # The HTTP stream was closed: the server saw the client leave.
    records = await asyncio.to_thread(
        scripted_llm.wait_for, lambda rs: rs[0]["outcome"] == "client_disconnected"
    )
    assert records[0]["outcome"] == "client_disconnected"


async def test_stop_during_a_slow_tool_cancels_it(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    scripted_llm.queue(ToolCall("slow_search", {}, id="call_slow"), "never asked for")
    tasks_before = asyncio.all_tasks()

    turn = asyncio.create_task(answer(scripted_llm, tools, events))
    await asyncio.wait_for(tools.slow_started.wait(), timeout=10)
    pressed = time.monotonic()
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    assert time.monotonic() - pressed < 5.0  # the tool alone would run 30 s

    assert tools.slow_cancelled
    [finished] = events.of(ToolFinished)
    assert finished.stopped and finished.call_id == "call_slow"
    assert "Stopped by the user" in finished.content
    [stopped] = events.of(TurnStopped)
    assert stopped.result.partial_text == ""
    assert len(scripted_llm.requests) == 1  # the model was not called again
    assert not tasks_left_by_the_turn(tasks_before)


# --- provider errors -----------------------------------------------------------------

ERROR_CASES = [
    pytest.param(
        Reply(error=401),
        "The LLM provider rejected the API key. An admin should check LLM_API_KEY.",
        id="401",
    ),
    pytest.param(
        Reply(error=(401, "You didn't provide an API key.")),
        "The LLM provider rejected the API key. An admin should check LLM_API_KEY.",
        id="401-as-bad-request",
    ),
    pytest.param(
        Reply(error=404),
        f"The model {MODEL} is not available from the provider. Pick another model.",
        id="404",
    ),
    pytest.param(
        Reply(error=429, repeat=2, headers={"retry-after-ms": "10"}),
        "The LLM provider is rate limiting us. Wait a moment and try again.",
        id="429-retry-exhausted",
    ),
    pytest.param(
        Reply(error=500, repeat=2, headers={"retry-after-ms": "10"}),
        "The LLM provider had a problem answering. Try again in a moment.",
        id="500",
    ),
    pytest.param(
        Reply(error=503, repeat=2, headers={"retry-after-ms": "10"}),
        "The LLM provider had a problem answering. Try again in a moment.",
        id="503",
    ),
    pytest.param(
        Reply(
            error=(
                400,
                "This model's maximum context length is 8192 tokens.",
                "context_length_exceeded",
            )
        ),
        "This conversation is too long for the model. Start a new conversation "
        "or pick a model with a larger context window.",
        id="context-window",
    ),
    pytest.param(
        Reply(error=(400, "Invalid value for 'temperature': must be at most 2.")),
        "The LLM provider refused the request: Invalid value for 'temperature': must be at most 2.",
        id="400",
    ),
]


# Rate limits and 5xx are retried once (max_retries=1); the rest fail at once.
RETRIED = {"429-retry-exhausted", "500", "503"}


@pytest.mark.parametrize(("reply", "message"), ERROR_CASES)
async def test_provider_errors_become_a_clear_message(
    scripted_llm: ScriptedLLM,
    tools: FakeBaseTools,
    events: EventLog,
    reply: Reply,
    message: str,
    request: pytest.FixtureRequest,
) -> None:
    scripted_llm.queue(reply)

    result = await answer(scripted_llm, tools, events)

    case = request.node.callspec.id
    assert len(scripted_llm.requests) == (2 if case in RETRIED else 1)

    assert result.error is not None
    assert result.error.message == message
    [error] = events.of(TurnError)
    assert error == result.error
    assert isinstance(events.events[-1], TurnDone)
    assert API_KEY not in error.message and API_KEY not in error.detail
    assert not events.of(AssistantMessage)


async def test_rate_limit_is_retried_once_then_answered(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    scripted_llm.queue(Reply(error=429, headers={"retry-after-ms": "10"}), "Recovered.")

    await answer(scripted_llm, tools, events)

    assert events.of(AssistantMessage)[-1].content == "Recovered."
    # Our own retry, not the SDK's: exactly one extra request.
    assert [r["headers"].get("x-stainless-retry-count") for r in scripted_llm.requests] == [
        "0",
        "0",
    ]


async def test_no_retry_when_the_provider_asks_for_a_long_wait(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    scripted_llm.queue(Reply(error=429, headers={"retry-after": "60"}), "too late")
    started = time.monotonic()

    result = await answer(scripted_llm, tools, events)

    assert result.error is not None and "rate limiting" in result.error.message
    assert len(scripted_llm.requests) == 1
    assert time.monotonic() - started < 5


async def test_a_model_that_never_answers_times_out(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    scripted_llm.queue(Reply(hang=True))
    started = time.monotonic()

    result = await answer(scripted_llm, tools, events, timeout=0.5)

    assert result.error is not None
    assert result.error.message == "The model did not answer within 0.5 seconds. Try again."
    assert time.monotonic() - started < 5


async def test_a_stream_that_stalls_midway_times_out_with_the_partial_text(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    scripted_llm.queue(Reply(content="one two three four", chunk_delay=2.0))

    result = await answer(scripted_llm, tools, events, timeout=0.5)

    assert result.error is not None
    assert result.error.message == "The model did not answer within 0.5 seconds. Try again."
    assert "one two three four".startswith(result.partial_text)


async def test_a_dropped_stream_is_not_retried_after_text_was_shown(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    scripted_llm.queue(Reply(content="one two three four five", disconnect_after=3), "retried")

    result = await answer(scripted_llm, tools, events)

    assert result.error is not None
    assert (
        result.error.message
        == "The connection to the LLM provider broke off mid-answer. Try again."
    )
    assert result.partial_text == "one two "
    assert result.error.partial_text == "one two "
    assert len(scripted_llm.requests) == 1


async def test_an_unreachable_provider_is_named(
    tools: FakeBaseTools, events: EventLog, unused_port: int
) -> None:
    api_base = f"http://127.0.0.1:{unused_port}/v1"

    result = await run_turn(
        history=QUESTION,
        system_prompt=SYSTEM,
        tools=tools,
        model=MODEL,
        api_base=api_base,
        api_key=API_KEY,
        timeout=2.0,
        max_steps=3,
        on_event=events,
        max_retries=0,
    )

    assert result.error is not None
    assert (
        result.error.message
        == f"Cannot reach the LLM provider at {api_base}. Try again in a moment."
    )


async def test_a_model_string_litellm_cannot_route_is_reported(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    result = await answer(scripted_llm, tools, events, model="no-such-provider-model")

    assert result.error is not None
    assert result.error.message == (
        "The model no-such-provider-model is not available from the provider. Pick another model."
    )
    assert scripted_llm.requests == []


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_airtable_calls_made_before_the_tools_are_counted_on_the_answer(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    # E.g. the schema fetched for the system prompt through the same per-turn client.
    tools._airtable_calls = 1
    scripted_llm.queue(ToolCall("get_record", {"record_id": "rec1"}), "Found it.")

    result = await answer(scripted_llm, tools, events)

    assert result.airtable_calls == 2
    assert [f.airtable_calls for f in events.of(ToolFinished)] == [1]
    assert events.of(AssistantMessage)[-1].airtable_calls == 1


# --- provider errors as the user reads them ------------------------------------------


async def test_a_provider_echoing_the_key_does_not_show_it(
    scripted_llm: ScriptedLLM, tools: FakeBaseTools, events: EventLog
) -> None:
    scripted_llm.queue(Reply(error=(400, f"Key {API_KEY} is not allowed to use tools.")))

    result = await run_turn(
        history=[{"role": "user", "content": "hi"}],
        system_prompt="s",
        tools=tools,
        model="openai/scripted-errors",
        api_base=scripted_llm.api_base,
        api_key=API_KEY,
        timeout=5,
        max_steps=2,
        on_event=events,
    )

    assert result.error is not None
    assert result.error.message.startswith("The LLM provider refused the request: Key [redacted]")
    assert API_KEY not in result.error.message
    assert API_KEY not in result.error.detail
