"""What the fake records about the requests litellm sent."""

from __future__ import annotations

import asyncio
import time

from tests.fakes.llm import Reply, ScriptedLLM, ToolCall
from tests.llm_fake.helpers import MESSAGES, TOOLS, collect, complete


async def test_records_messages_tools_and_stream_flag(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(ToolCall("list_bases"), "Here they are.")
    before = time.time()

    first = await complete(scripted_llm, tools=TOOLS, tool_choice="auto")
    call = first.choices[0].message.tool_calls[0]
    follow_up = [
        *MESSAGES,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"bases": ["CRM"]}'},
    ]
    await collect(await complete(scripted_llm, messages=follow_up, tools=TOOLS, stream=True))

    first_req, second_req = scripted_llm.requests
    assert first_req["model"] == "scripted-test"
    assert first_req["messages"] == MESSAGES
    assert [t["function"]["name"] for t in first_req["tools"]] == ["list_bases", "list_records"]
    assert first_req["tool_choice"] == "auto"
    assert first_req["stream"] is False
    assert second_req["stream"] is True
    assert second_req["messages"][-1] == {
        "role": "tool",
        "tool_call_id": call.id,
        "content": '{"bases": ["CRM"]}',
    }
    assert second_req["messages"][-2]["tool_calls"][0]["function"]["name"] == "list_bases"
    assert before <= first_req["received_at"] <= second_req["received_at"] <= time.time()
    assert [r["outcome"] for r in scripted_llm.requests] == ["completed", "completed"]


async def test_records_auth_presence_but_never_the_key(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue("ok")

    await complete(scripted_llm, api_key="sk-very-secret-9876")

    record = scripted_llm.last_request
    assert record["auth"] == {"present": True, "last4": "9876"}
    assert "authorization" not in record["headers"]
    assert "sk-very-secret" not in repr(record)
    assert record["headers"]["content-type"] == "application/json"


async def test_per_model_queue_is_used_first(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue("for anyone")
    scripted_llm.queue("for model b", model="model-b")

    a = await complete(scripted_llm, model="openai/model-a")
    b1 = await complete(scripted_llm, model="openai/model-b")
    b2 = await complete(scripted_llm, model="openai/model-b")

    assert a.choices[0].message.content == "for anyone"
    assert b1.choices[0].message.content == "for model b"
    assert b2.choices[0].message.content.startswith("[scripted-llm]")
    assert [r["model"] for r in scripted_llm.requests] == ["model-a", "model-b", "model-b"]


async def test_concurrent_requests_on_separate_models(scripted_llm: ScriptedLLM) -> None:
    for name in ("x", "y", "z"):
        scripted_llm.queue(Reply(content=f"answer {name}", delay_before=1.0), model=name)
    started = time.monotonic()

    results = await asyncio.gather(
        *(complete(scripted_llm, model=f"openai/{name}") for name in ("x", "y", "z"))
    )

    assert [r.choices[0].message.content for r in results] == ["answer x", "answer y", "answer z"]
    # Served in parallel, not one after another (that would take 3 s).
    assert time.monotonic() - started < 2.5


async def test_clear_forgets_replies_and_requests(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue("ok", "unused")
    await complete(scripted_llm)

    scripted_llm.clear()

    assert scripted_llm.requests == []
    assert scripted_llm.pending() == 0


async def test_session_server_is_shared_and_cleared_by_hand(
    scripted_llm_server: ScriptedLLM,
) -> None:
    scripted_llm_server.clear()
    scripted_llm_server.queue("shared", model="session-test")

    response = await complete(scripted_llm_server, model="openai/session-test")

    assert response.choices[0].message.content == "shared"
    assert len(scripted_llm_server.requests) == 1


async def test_session_server_works_again_in_another_test(
    scripted_llm_server: ScriptedLLM,
) -> None:
    # A second test on the same server and api_base: litellm's cached client
    # must still work from this test's event loop.
    scripted_llm_server.clear()
    scripted_llm_server.queue("again")

    response = await complete(scripted_llm_server, stream=False)

    assert response.choices[0].message.content == "again"
