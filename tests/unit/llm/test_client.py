"""One model call through the gateway: streamed over real HTTP to the scripted LLM, and
the quirks of provider adapters the scripted server does not produce."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from prometheus_client import REGISTRY

from pyairtable_ui.llm.client import (
    LLMCallError,
    ModelCall,
    ReplyBuilder,
    estimate_cost,
    open_reply_stream,
)
from tests.fakes.llm import Reply, ScriptedLLM, ToolCall
from tests.unit.chat.conftest import API_KEY


def _tool_chunk(**part: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"tool_calls": [part]}}]}


def test_parallel_calls_sharing_index_zero_stay_apart() -> None:
    # Seen with some non-OpenAI adapters: every call streamed at index 0.
    builder = ReplyBuilder()
    for chunk in [
        _tool_chunk(index=0, id="call_a", function={"name": "get_record", "arguments": ""}),
        _tool_chunk(index=0, function={"arguments": '{"record_id": "rec1"}'}),
        _tool_chunk(index=0, id="call_b", function={"name": "get_record", "arguments": '{"rec'}),
        _tool_chunk(index=0, function={"arguments": 'ord_id": "rec2"}'}),
    ]:
        builder.add(chunk)

    calls = builder.tool_calls()

    assert [(c["id"], c["function"]["arguments"]) for c in calls] == [
        ("call_a", '{"record_id": "rec1"}'),
        ("call_b", '{"record_id": "rec2"}'),
    ]


def test_calls_without_index_or_id_are_still_assembled() -> None:
    builder = ReplyBuilder()
    for chunk in [
        _tool_chunk(function={"name": "list_records", "arguments": ""}),
        _tool_chunk(function={"arguments": ""}),
        {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}},
    ]:
        builder.add(chunk)

    [call] = builder.tool_calls()

    assert call["id"].startswith("call_") and len(call["id"]) > 10
    assert call["function"] == {"name": "list_records", "arguments": "{}"}
    assert (builder.prompt_tokens, builder.completion_tokens) == (7, 3)


# --- one model call over real HTTP ----------------------------------------------------


def _call(llm: ScriptedLLM, model: str = "openai/scripted-client") -> ModelCall:
    return ModelCall(model=model, api_base=llm.api_base, api_key=API_KEY, timeout=5.0)


async def test_a_stream_yields_the_text_then_the_whole_reply(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(
        Reply(content="Two tasks are open.", usage={"prompt_tokens": 12, "completion_tokens": 5})
    )
    messages = [{"role": "user", "content": "What is open?"}]

    async with open_reply_stream(_call(scripted_llm), messages=messages, tools=[]) as stream:
        pieces = [text async for text in stream]
    reply = stream.reply()

    assert "".join(pieces) == reply.text == "Two tasks are open."
    assert (reply.prompt_tokens, reply.completion_tokens) == (12, 5)
    assert reply.tool_calls == [] and reply.duration_ms >= 0
    [request] = scripted_llm.requests
    assert request["messages"] == messages
    assert "tools" not in request["body"]  # an empty list is rejected by OpenAI-style APIs


async def test_a_tool_call_comes_back_in_openai_message_format(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(ToolCall("get_record", {"record_id": "rec1"}))
    tools = [{"type": "function", "function": {"name": "get_record", "parameters": {}}}]

    async with open_reply_stream(
        _call(scripted_llm), messages=[{"role": "user", "content": "rec1?"}], tools=tools
    ) as stream:
        assert [text async for text in stream] == []
    [call] = stream.reply().tool_calls

    assert call["type"] == "function"
    assert call["function"]["name"] == "get_record"
    assert json.loads(call["function"]["arguments"]) == {"record_id": "rec1"}
    assert scripted_llm.requests[0]["tools"] == tools


async def test_a_refused_request_is_one_error_with_the_users_message_and_no_key(
    scripted_llm: ScriptedLLM,
) -> None:
    scripted_llm.queue(Reply(error=(400, f"Key {API_KEY} is not allowed to use tools.")))
    counted = {"model": "openai/scripted-client", "error": "BadRequestError"}
    errors_before = REGISTRY.get_sample_value("pyairtable_ui_llm_errors_total", counted) or 0

    with pytest.raises(LLMCallError) as raised:
        async with open_reply_stream(
            _call(scripted_llm), messages=[{"role": "user", "content": "hi"}], tools=[]
        ):
            pass

    failure = raised.value.failure
    assert failure.message.startswith("The LLM provider refused the request: Key [redacted]")
    assert API_KEY not in failure.detail
    assert not failure.retryable and not raised.value.showed_output
    # The LLM-errors alert (deploy/prometheus/alerts.yml) counts it.
    assert REGISTRY.get_sample_value("pyairtable_ui_llm_errors_total", counted) == errors_before + 1


def test_cost_is_priced_from_litellms_table_and_none_when_unknown() -> None:
    assert (estimate_cost("openai/gpt-4o-mini", 1000, 500) or 0) > 0
    assert estimate_cost("openai/scripted-no-price", 10, 5) is None


def test_no_module_of_the_app_imports_litellm_or_zxcvbn_a_model_call_loads_litellm() -> None:
    # litellm adds ~110 MB and seconds at import: only a process that calls a model pays.
    probe = (
        "import asyncio, pkgutil, sys, importlib\n"
        "import pyairtable_ui\n"
        "import pyairtable_ui.pyairtable_ui\n"
        "for info in pkgutil.walk_packages(pyairtable_ui.__path__, 'pyairtable_ui.'):\n"
        "    importlib.import_module(info.name)\n"
        "app = pyairtable_ui.pyairtable_ui.app\n"
        "tasks = [getattr(t, '__module__', '') for t in app._lifespan_tasks]\n"
        "assert not [t for t in tasks if t.startswith('pyairtable_ui.llm')], tasks\n"
        "print(sorted(m for m in ('litellm', 'openai', 'zxcvbn') if m in sys.modules))\n"
        "from pyairtable_ui.llm.loading import load_litellm\n"
        "asyncio.run(load_litellm())\n"
        "print(sorted(m for m in ('litellm', 'openai') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=180, check=True
    )

    assert done.stdout.split() == ["[]", "['litellm',", "'openai']"]
