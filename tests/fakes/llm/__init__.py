"""A scripted, recording OpenAI-compatible LLM for tests and the local demo.

Point litellm at it with ``model="openai/scripted-test"`` and
``api_base=llm.api_base``; queue the replies and tool calls each test needs,
then read ``llm.requests`` to see what the app sent. See ``server.ScriptedLLM``.
"""

from tests.fakes.llm.script import Reply, ScriptedError, ToolCall
from tests.fakes.llm.server import DEFAULT_MODEL, DEMO_TEXT, UNSCRIPTED_TEXT, ScriptedLLM

__all__ = [
    "DEFAULT_MODEL",
    "DEMO_TEXT",
    "UNSCRIPTED_TEXT",
    "Reply",
    "ScriptedError",
    "ScriptedLLM",
    "ToolCall",
]
