"""Non-streaming replies through litellm."""

from __future__ import annotations

import json

from tests.fakes.llm import UNSCRIPTED_TEXT, Reply, ScriptedLLM, ToolCall
from tests.llm_fake.helpers import TOOLS, collect, complete, text_of


async def test_text_reply(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue("You have two bases.")

    response = await complete(scripted_llm)

    assert response.choices[0].message.content == "You have two bases."
    assert response.choices[0].finish_reason == "stop"
    assert response.id.startswith("chatcmpl-")
    assert response.model == "scripted-test"
    assert response.usage.total_tokens == (
        response.usage.prompt_tokens + response.usage.completion_tokens
    )


async def test_parallel_tool_calls(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(
        ToolCall("list_bases"),
        Reply(
            tool_calls=[
                ToolCall("list_records", {"base_id": "a", "table": "T1"}),
                ToolCall("list_records", {"base_id": "b", "table": "T2"}, id="call_fixed"),
            ]
        ),
    )

    first = await complete(scripted_llm, tools=TOOLS)
    second = await complete(scripted_llm, tools=TOOLS)

    (only,) = first.choices[0].message.tool_calls
    assert only.function.name == "list_bases"
    assert json.loads(only.function.arguments) == {}
    assert first.choices[0].finish_reason == "tool_calls"
    calls = second.choices[0].message.tool_calls
    assert [json.loads(c.function.arguments)["table"] for c in calls] == ["T1", "T2"]
    assert calls[1].id == "call_fixed"


async def test_invalid_json_arguments_arrive_verbatim(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(ToolCall("list_records", "not json at all"))

    response = await complete(scripted_llm, tools=TOOLS)

    assert response.choices[0].message.tool_calls[0].function.arguments == "not json at all"


async def test_empty_queue_answers_plainly_and_records(scripted_llm: ScriptedLLM) -> None:
    response = await complete(scripted_llm)
    chunks = await collect(await complete(scripted_llm, stream=True))

    assert response.choices[0].message.content == UNSCRIPTED_TEXT
    assert text_of(chunks) == UNSCRIPTED_TEXT
    assert [r["served"] for r in scripted_llm.requests] == ["unscripted", "unscripted"]


async def test_replies_are_served_in_order_and_counted(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue("one", "two")
    scripted_llm.queue(Reply(content="three", repeat=2))
    assert scripted_llm.pending() == 4

    answers = [(await complete(scripted_llm)).choices[0].message.content for _ in range(5)]

    assert answers == ["one", "two", "three", "three", UNSCRIPTED_TEXT]
    assert scripted_llm.pending() == 0
