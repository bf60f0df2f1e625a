"""The tools the model can call (PRODUCT.md §3.4), in one registry.

Usage by the agent loop, once per turn::

    client = AirtableClient(token, api_url=settings.airtable_api_url)
    ctx = ToolContext(user_id=..., base_id=..., client=client, session_factory=session_scope,
                      conversation_id=..., message_id=...,
                      confirm_threshold=settings.confirm_threshold)
    tools = TurnTools(get_registry(), ctx)           # the agent loop's ToolExecutor
    tools.schemas()                                  # litellm tools=...
    result = await tools.call(name, arguments_json, call_id)  # never raises for bad input
    ...                                              # result.content goes back to the model
    tools.airtable_calls()                           # == client.calls: the turn's requests

On Stop: cancel the task (the client is cancelled with it) or call `tools.cancel()`;
a running tool stops before its next Airtable request.
"""

from __future__ import annotations

import functools

from pyairtable_ui.tools.arguments import ToolArguments
from pyairtable_ui.tools.read_tools import READ_TOOLS
from pyairtable_ui.tools.registry import (
    Tool,
    ToolContext,
    ToolInputError,
    ToolRegistry,
    ToolResult,
    TurnTools,
)
from pyairtable_ui.tools.schema_tools import SCHEMA_TOOLS
from pyairtable_ui.tools.writes import WRITE_TOOL_NAMES, WRITE_TOOLS


def build_registry() -> ToolRegistry:
    """A registry with every tool, in the order the model sees them."""
    return ToolRegistry([*SCHEMA_TOOLS, *READ_TOOLS, *WRITE_TOOLS])


@functools.cache
def get_registry() -> ToolRegistry:
    """The process's registry (tools are stateless; one is enough)."""
    return build_registry()


__all__ = [
    "WRITE_TOOL_NAMES",
    "Tool",
    "ToolArguments",
    "ToolContext",
    "ToolInputError",
    "ToolRegistry",
    "ToolResult",
    "TurnTools",
    "build_registry",
    "get_registry",
]
