"""The tool registry: one place that names, describes, validates and runs every tool.

A `Tool` is a name, a description, a pydantic model of its arguments (whose
JSON schema the model sees), whether it writes, and a function
`(ctx, args) -> ToolResult` that receives the validated, typed arguments.
`ToolRegistry.call` never raises for anything the model got wrong: an unknown
tool, arguments that are not JSON, arguments that break the schema, unknown
table or field names, and Airtable's refusals all come back as
`ToolResult(is_error=True)` whose text says what to fix. Only `ToolCancelled`
(the user pressed Stop) and task cancellation propagate, because the agent loop
must stop rather than answer the model.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from pyairtable_ui.airtable import schema as schema_module
from pyairtable_ui.airtable.aggregate_cache import AggregateCache
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.errors import SCHEMA_ERROR_TYPES, AirtableError, ToolCancelled
from pyairtable_ui.airtable.schema import BaseSchema, SchemaCache, UnknownNameError
from pyairtable_ui.core.db import SessionFactory
from pyairtable_ui.tools.arguments import ToolArguments, argument_problems

logger = logging.getLogger(__name__)

# Each tool takes its own `ToolArguments` subclass, hence Any for the arguments here.
ToolFunction = Callable[["ToolContext", Any], "ToolResult | Awaitable[ToolResult]"]

# The most problems listed for one call: enough to fix them, few enough to read.
_MAX_PROBLEMS = 8


class ToolInputError(Exception):
    """The arguments are valid JSON for the schema but wrong for this base.

    Raised by tool functions (bad filter value for a field type, computed field
    written to, ...); the registry turns it into an error result for the model.

    Attributes:
        message: What the model reads.
    """

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass
class ToolResult:
    """What a tool returns.

    Attributes:
        content: Compact text or JSON the model reads.
        display: A small structured summary for the UI (e.g. up to 50 rows), or None.
        is_error: Whether the call failed; `content` then says what to fix.
        action_id: For write tools, the proposed `Action`'s id.
    """

    content: str
    display: dict[str, Any] | None = None
    is_error: bool = False
    action_id: int | None = None


@dataclass
class ToolContext:
    """Everything a tool may use for one chat turn.

    Attributes:
        user_id: The signed-in user (actions are theirs).
        base_id: The base the conversation is about (None until chosen).
        client: The turn's Airtable client (counts the turn's requests).
        session_factory: Opens a database session that commits on success
            (e.g. `pyairtable_ui.core.db.session_scope`).
        conversation_id: The conversation, for the action log.
        message_id: The assistant message whose tool call this is.
        confirm_threshold: Record count above which a typed confirmation is needed.
        schema_cache: The schema cache (the process's by default).
        aggregate_cache: Where aggregate results are reused (the process's by default).
        read_record_text: Set by read tools when they returned record contents
            (text from the base is untrusted; safe-writes takes it into account).
        turn_cache: Per-turn memo (schemas, primary values of linked records).
    """

    user_id: int
    base_id: str | None
    client: AirtableClient
    session_factory: SessionFactory
    conversation_id: int | None = None
    message_id: int | None = None
    confirm_threshold: int = 20
    schema_cache: SchemaCache | None = None
    aggregate_cache: AggregateCache | None = None
    read_record_text: bool = False
    turn_cache: dict[str, Any] = field(default_factory=dict)

    def require_base(self) -> str:
        """The base id, or a `ToolInputError` telling the model none is chosen."""
        if not self.base_id:
            raise ToolInputError(
                "No base is selected for this conversation. Call list_bases and ask the user "
                "which base to use; they choose it with the base switcher."
            )
        return self.base_id

    def schema(self, *, refresh: bool = False) -> BaseSchema:
        """The base schema, memoised for the turn (the cache serves other turns).

        Args:
            refresh: Fetch from Airtable (once per turn) even if cached, e.g. when a
                name was not found and the schema may have changed since caching.

        Returns:
            The schema of `base_id`.
        """
        base_id = self.require_base()
        memo_key = f"schema:{base_id}"
        refreshed_key = f"schema-refreshed:{base_id}"
        if refresh and not self.turn_cache.get(refreshed_key):
            self.turn_cache[refreshed_key] = True
            self.turn_cache[memo_key] = schema_module.get_base_schema(
                self.client, base_id, force=True, cache=self.schema_cache
            )
        elif memo_key not in self.turn_cache:
            self.turn_cache[memo_key] = schema_module.get_base_schema(
                self.client, base_id, cache=self.schema_cache
            )
        schema: BaseSchema = self.turn_cache[memo_key]
        return schema

    def resolve_table(self, ref: str) -> schema_module.TableSchema:
        """The table named (or with the id) `ref`; refetches the schema once if unknown.

        Raises:
            UnknownTableError: Still unknown after a fresh schema.
        """
        found = self.schema().find_table(ref)
        if found is not None:
            return found
        # The user may have added or renamed the table since the schema was cached.
        return self.schema(refresh=True).table(ref)

    def resolve_field(
        self, table: schema_module.TableSchema, ref: str
    ) -> schema_module.FieldSchema:
        """The field `ref` of `table`; refetches the schema once if unknown.

        Raises:
            UnknownFieldError: Still unknown after a fresh schema.
        """
        found = table.find_field(ref)
        if found is not None:
            return found
        fresh = self.schema(refresh=True).table_by_id(table.id) or table
        return fresh.field(ref)


@dataclass(frozen=True)
class Tool:
    """One tool the model can call.

    Attributes:
        name: The name the model calls it by.
        description: What it does and when to use it (sent to the model: keep it short).
        arguments: The model of its arguments; its JSON schema is what the model sees.
        function: `(ctx, args) -> ToolResult` with `args` an instance of `arguments`;
            sync functions run in a thread.
        writes: Whether it changes the base (it then proposes an action, never writes).
        needs_base: Whether a base must be selected.
    """

    name: str
    description: str
    arguments: type[ToolArguments]
    function: ToolFunction
    writes: bool = False
    needs_base: bool = True

    def schema(self) -> dict[str, Any]:
        """The tool in the OpenAI / litellm ``tools=[...]`` format."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.arguments.tool_parameters(),
            },
        }


class ToolRegistry:
    """The tools, their schemas for the model, and the one way to call them."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        """Create a registry.

        Args:
            tools: Tools to register now.
        """
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        """Add a tool; its schema is built now so a model it cannot show fails at startup.

        Raises:
            ValueError: A tool of that name exists already.
            pydantic.errors.PydanticUserError: The arguments have no JSON schema.
        """
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is registered twice")
        tool.schema()
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool | None:
        """The tool called `name`, or None."""
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        """The tool names, in registration order."""
        return list(self._tools)

    def schemas(self, names: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The tools for the LLM request (``tools=`` of litellm / OpenAI).

        Args:
            names: Only these tools (default: all).

        Returns:
            A list of ``{"type": "function", "function": {...}}``.
        """
        wanted = self._tools if names is None else {n: self._tools[n] for n in names}
        return [tool.schema() for tool in wanted.values()]

    def validate(self, name: str, arguments: dict[str, Any]) -> ToolArguments | list[str]:
        """Tool `name`'s typed arguments, or each way they are wrong ("- path: problem").

        Raises:
            KeyError: There is no tool `name`.
        """
        model = self._tools[name].arguments
        try:
            return model.model_validate(arguments)
        except ValidationError as exc:
            return argument_problems(exc, model)

    async def call(
        self, name: str, raw_arguments: str | dict[str, Any] | None, ctx: ToolContext
    ) -> ToolResult:
        """Validate and run one tool call; any mistake comes back as an error result.

        Args:
            name: The tool the model called.
            raw_arguments: Its arguments as the model sent them (a JSON string) or parsed.
            ctx: The turn's context.

        Returns:
            The result (``is_error=True`` with what to fix when the call was wrong).

        Raises:
            ToolCancelled: The user pressed Stop while the tool ran.
            asyncio.CancelledError: The awaiting task was cancelled (the client is
                cancelled too, so the worker thread stops before its next request).
        """
        tool = self._tools.get(name)
        if tool is None:
            return ToolResult(
                f'There is no tool "{name}". Available tools: {", ".join(self._tools)}.',
                is_error=True,
            )
        arguments, problem = _parse_arguments(raw_arguments)
        if problem:
            return ToolResult(problem, is_error=True)
        assert arguments is not None
        validated = self.validate(name, arguments)
        if isinstance(validated, list):
            shown = validated[:_MAX_PROBLEMS]
            more = len(validated) - len(shown)
            text = f"The arguments for {name} are invalid:\n" + "\n".join(shown)
            if more:
                text += f"\n(+{more} more problems)"
            return ToolResult(text + "\nFix them and call the tool again.", is_error=True)

        started = time.monotonic()
        try:
            if tool.needs_base:
                ctx.require_base()
            if inspect.iscoroutinefunction(tool.function):
                result = await tool.function(ctx, validated)  # type: ignore[misc]
            else:
                result = await ctx.client.run(tool.function, ctx, validated)
        except (ToolCancelled, asyncio.CancelledError):
            raise
        except (ToolInputError, UnknownNameError) as exc:
            return ToolResult(exc.message, is_error=True)
        except AirtableError as exc:
            if exc.type in SCHEMA_ERROR_TYPES and ctx.base_id:
                # Airtable knows better than our cache: refetch the schema next time.
                schema_module.invalidate(ctx.base_id, cache=ctx.schema_cache)
            logger.info("tool %s failed on Airtable status=%s type=%s", name, exc.status, exc.type)
            return ToolResult(exc.message_for_model, is_error=True)
        except Exception:
            # A bug on our side: logged with its traceback, reported to the model plainly.
            logger.exception("tool %s crashed", name)
            return ToolResult(
                f"The tool {name} failed because of an internal error (it has been logged). "
                "Do not retry the same call; tell the user something went wrong.",
                is_error=True,
            )
        if not isinstance(result, ToolResult):
            raise TypeError(f"tool {name} returned {type(result).__name__}, not ToolResult")
        logger.info(
            "tool %s done in %.2fs error=%s airtable_calls=%d",
            name,
            time.monotonic() - started,
            result.is_error,
            ctx.client.calls,
        )
        return result


def _parse_arguments(raw: str | dict[str, Any] | None) -> tuple[dict[str, Any] | None, str]:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}, ""
    if isinstance(raw, dict):
        return raw, ""
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, (
            f"The arguments are not valid JSON ({exc.msg} at line {exc.lineno} column "
            f"{exc.colno}). Send one JSON object."
        )
    if not isinstance(parsed, dict):
        return None, f"The arguments must be a JSON object, not {type(parsed).__name__}."
    return parsed, ""


class TurnTools:
    """The registry bound to one turn's context: what the agent loop calls.

    Matches the chat loop's `ToolExecutor` (schemas / call / airtable_calls):
    make one per turn, since its client counts that turn's Airtable requests.
    """

    def __init__(self, registry: ToolRegistry, ctx: ToolContext) -> None:
        """Bind `registry` to `ctx`."""
        self.registry = registry
        self.ctx = ctx

    def schemas(self) -> list[dict[str, Any]]:
        """The tool definitions for the LLM request."""
        return self.registry.schemas()

    async def call(
        self, name: str, raw_arguments: str | dict[str, Any] | None, call_id: str | None = None
    ) -> ToolResult:
        """Run one tool call; Stop (`cancel`) comes back as an error result, not an exception.

        Task cancellation (`asyncio.CancelledError`) still propagates.
        """
        try:
            return await self.registry.call(name, raw_arguments, self.ctx)
        except ToolCancelled as exc:
            logger.info("tool %s stopped by the user call_id=%s", name, call_id)
            return ToolResult(f"{exc.message} The tool may not have finished.", is_error=True)

    def airtable_calls(self) -> int:
        """Airtable requests this turn has made so far."""
        return self.ctx.client.calls

    def cancel(self) -> None:
        """Stop the running tool before its next Airtable request."""
        self.ctx.client.cancel()
