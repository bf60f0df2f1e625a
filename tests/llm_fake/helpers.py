"""Calls into litellm shaped like the app's, for the scripted-LLM tests."""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm

from tests.fakes.llm import ScriptedLLM

MODEL = "openai/scripted-test"
MESSAGES = [
    {"role": "system", "content": "You help with Airtable bases."},
    {"role": "user", "content": "Which bases do I have?"},
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "list_bases",
            "description": "List the user's Airtable bases.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "list_records",
            "description": "List records of a table.",
            "parameters": {
                "type": "object",
                "properties": {"base_id": {"type": "string"}, "table": {"type": "string"}},
                "required": ["base_id", "table"],
            },
        },
    },
]


async def complete(llm: ScriptedLLM, **kwargs: Any) -> Any:
    """Call ``litellm.acompletion`` against the fake, with retries off by default.

    Args:
        llm: The running fake.
        **kwargs: Overrides for ``acompletion`` (``stream``, ``tools``, ...).

    Returns:
        What ``litellm.acompletion`` returns (a response or a stream).
    """
    params: dict[str, Any] = {
        "model": MODEL,
        "api_base": llm.api_base,
        "api_key": "sk-test-1234",
        "messages": MESSAGES,
        # The OpenAI SDK retries 408/409/429/5xx twice by default; tests of
        # one scripted error want to see that error, not a retry.
        "max_retries": 0,
    }
    params.update(kwargs)
    return await litellm.acompletion(**params)


async def collect(stream: Any) -> list[Any]:
    """Read a litellm stream to the end.

    Args:
        stream: What ``acompletion(stream=True)`` returned.

    Returns:
        Every chunk, in order.
    """
    return [chunk async for chunk in stream]


def rebuild(chunks: list[Any]) -> Any:
    """Reassemble streamed chunks into one response, as the app would.

    Args:
        chunks: Every chunk of one stream.

    Returns:
        The ``ModelResponse`` litellm builds from them.
    """
    return litellm.stream_chunk_builder(chunks)


def text_of(chunks: list[Any]) -> str:
    """Join the content deltas of streamed chunks."""
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
