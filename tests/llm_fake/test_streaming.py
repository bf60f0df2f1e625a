"""Streaming replies through litellm: text, tool calls and usage."""

from __future__ import annotations

import json

from tests.fakes.llm import Reply, ScriptedLLM, ToolCall
from tests.llm_fake.helpers import TOOLS, collect, complete, rebuild, text_of


async def test_text_streams_in_several_chunks_and_reassembles(scripted_llm: ScriptedLLM) -> None:
    text = "Your workspace has three bases: CRM, Hiring and Inventory."
    scripted_llm.queue(Reply(content=text))

    chunks = await collect(await complete(scripted_llm, stream=True))

    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) >= 5
    assert text_of(chunks) == text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


async def test_stream_ends_with_usage_when_asked(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(Reply(content="Done.", usage={"prompt_tokens": 120, "completion_tokens": 7}))

    chunks = await collect(
        await complete(scripted_llm, stream=True, stream_options={"include_usage": True})
    )

    usage = [c.usage for c in chunks if getattr(c, "usage", None)]
    assert usage, "no chunk carried usage"
    assert (usage[-1].prompt_tokens, usage[-1].completion_tokens) == (120, 7)
    assert usage[-1].total_tokens == 127
    rebuilt = rebuild(chunks)
    assert rebuilt.usage.total_tokens == 127


async def test_usage_is_estimated_when_not_scripted(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(Reply(content="x" * 400))

    chunks = await collect(
        await complete(scripted_llm, stream=True, stream_options={"include_usage": True})
    )

    usage = next(c.usage for c in reversed(chunks) if getattr(c, "usage", None))
    assert usage.completion_tokens == 100  # ~4 characters per token
    assert usage.prompt_tokens > 0


async def test_single_tool_call_streams_with_name_and_arguments(scripted_llm: ScriptedLLM) -> None:
    args = {"base_id": "appCRM123", "table": "Contacts and companies"}
    scripted_llm.queue(Reply(tool_calls=[ToolCall("list_records", args)]))

    chunks = await collect(await complete(scripted_llm, stream=True, tools=TOOLS))

    message = rebuild(chunks).choices[0]
    assert message.finish_reason == "tool_calls"
    (call,) = message.message.tool_calls
    assert call.function.name == "list_records"
    assert json.loads(call.function.arguments) == args
    assert call.id.startswith("call_")
    # The arguments really came as several deltas, as OpenAI sends them.
    pieces = [
        tc.function.arguments
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
        for tc in c.choices[0].delta.tool_calls
        if tc.function.arguments
    ]
    assert len(pieces) > 1


async def test_parallel_tool_calls_and_text_stream(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(
        Reply(
            content="Let me look.",
            tool_calls=[
                ToolCall("list_bases", {}),
                ToolCall("list_records", {"base_id": "app1", "table": "Tasks"}),
            ],
        )
    )

    chunks = await collect(await complete(scripted_llm, stream=True, tools=TOOLS))

    rebuilt = rebuild(chunks).choices[0].message
    assert rebuilt.content == "Let me look."
    calls = rebuilt.tool_calls
    assert [c.function.name for c in calls] == ["list_bases", "list_records"]
    assert [json.loads(c.function.arguments) for c in calls] == [
        {},
        {"base_id": "app1", "table": "Tasks"},
    ]
    assert len({c.id for c in calls}) == 2


async def test_invalid_json_arguments_arrive_verbatim(scripted_llm: ScriptedLLM) -> None:
    garbage = '{"base_id": "app1", "table": '
    scripted_llm.queue(Reply(tool_calls=[ToolCall("list_records", garbage)]))

    chunks = await collect(await complete(scripted_llm, stream=True, tools=TOOLS))

    (call,) = rebuild(chunks).choices[0].message.tool_calls
    assert call.function.arguments == garbage


async def test_finish_reason_override(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(Reply(content="The answer was cut", finish_reason="length"))

    chunks = await collect(await complete(scripted_llm, stream=True))

    reasons = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert "length" in reasons
