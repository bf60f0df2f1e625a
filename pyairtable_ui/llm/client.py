"""One streamed model call: send the messages and tools, read the reply as it comes.

The agent loop talks to the model only through this module:

    call = ModelCall(model="openai/gpt-4o-mini", api_base=None, api_key=key, timeout=60)
    async with open_reply_stream(call, messages=messages, tools=schemas) as stream:
        async for text in stream:
            show(text)
    reply = stream.reply()  # text, tool calls, usage, how long it took

Whatever the provider raises, for the request or mid-stream, comes out as
`LLMCallError` with the user's message, the log detail and whether a retry may
help. The OpenAI SDK's own retries are off (`max_retries=0`): the caller decides.

litellm is loaded by the first call at the latest (see `loading`). Imports no Reflex.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from pyairtable_ui.core import tracing
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.observability import LLM_ERRORS
from pyairtable_ui.llm.errors import LLMFailure, describe_llm_error, retry_after_seconds
from pyairtable_ui.llm.loading import litellm_module, load_litellm

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelCall:
    """Which model to call, where, and how long to wait for it.

    Attributes:
        model: A litellm model string, e.g. `openai/gpt-4o-mini`.
        api_base: The provider address, or None for the provider's default.
        api_key: The provider key, or None to let litellm read its env variables.
        timeout: Seconds to wait for the model to start answering, and between chunks.
    """

    model: str
    api_base: str | None
    api_key: str | None
    timeout: float


@dataclass(frozen=True)
class ModelReply:
    """A completed model call.

    Attributes:
        text: The answer text (may be empty when the model only called tools).
        tool_calls: The calls it asked for, in OpenAI message format, in its order.
        prompt_tokens: Tokens sent, as the provider reported them (0 when it did not).
        completion_tokens: Tokens received, as the provider reported them.
        finish_reason: Why the model stopped (`stop`, `tool_calls`, `length`…), if given.
        duration_ms: From sending the request to the end of the stream.
    """

    text: str
    tool_calls: list[dict[str, Any]]
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None
    duration_ms: int


class LLMCallError(UserFacingError):
    """A model call (the request or its stream) failed; `message` is `failure.message`.

    Attributes:
        failure: What to tell the user and what to log (the key is never in it).
        retry_after: The wait the provider asked for, in seconds, if it named one.
        showed_output: Whether some of the reply had already streamed out.
    """

    def __init__(
        self, failure: LLMFailure, *, retry_after: float | None, showed_output: bool
    ) -> None:
        super().__init__(failure.message, detail=failure.detail)
        self.failure = failure
        self.retry_after = retry_after
        self.showed_output = showed_output


def open_reply_stream(
    call: ModelCall, *, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> ReplyStream:
    """A streamed model call, sent when the `async with` block is entered.

    Args:
        call: The model and where to reach it.
        messages: The conversation in OpenAI format, system prompt first. Not modified.
        tools: The tool definitions in the OpenAI `tools` format (may be empty).

    Returns:
        The stream: iterate it for text pieces, then read `reply()`.
    """
    return ReplyStream(call, messages=messages, tools=tools)


def estimate_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """The price of a model call from litellm's cost data, or None when it is unknown.

    Args:
        model: The litellm model string.
        prompt_tokens: Tokens sent.
        completion_tokens: Tokens received.

    Returns:
        The cost in USD, or None for a model litellm has no prices for. Never raises.
    """
    try:
        prompt_cost, completion_cost = litellm_module().cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception as exc:  # litellm raises several unrelated types for unknown models
        logger.debug("no cost data for model %s: %s: %s", model, type(exc).__name__, exc)
        return None
    return float(prompt_cost) + float(completion_cost)


class ReplyStream:
    """One model call in progress; use through `open_reply_stream`.

    Entering sends the request; iterating yields the answer text as it arrives
    (tool calls and usage are gathered on the way); leaving closes the HTTP stream,
    also when the caller stops early or is cancelled.
    """

    def __init__(
        self, call: ModelCall, *, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> None:
        self._call = call
        self._messages = messages
        self._tools = tools
        self._builder = ReplyBuilder()
        self._stream: Any = None
        self._chunks: Any = None
        self._started = 0.0
        self._duration_ms: int | None = None
        self._span: tracing.Span | None = None

    async def __aenter__(self) -> ReplyStream:
        litellm = await load_litellm()
        self._started = time.monotonic()
        self._span = tracing.start_span(
            "llm.call",
            {"gen_ai.request.model": self._call.model, "gen_ai.tool.count": len(self._tools)},
        )
        params: dict[str, Any] = {
            "model": self._call.model,
            # A copy: some provider adapters rewrite messages in place.
            "messages": copy.deepcopy(self._messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "api_base": self._call.api_base,
            "api_key": self._call.api_key,
            "timeout": self._call.timeout,
            "max_retries": 0,
        }
        if self._tools:
            params["tools"] = self._tools  # an empty list is rejected by OpenAI-style APIs
        try:
            self._stream = await litellm.acompletion(**params)
        except Exception as exc:
            failed = self._failed(exc, showed_output=False)
            self._end_span(exc)
            raise failed from exc
        except BaseException as exc:  # cancelled (Stop) while waiting for the answer
            self._end_span(exc)
            raise
        self._chunks = self._stream.__aiter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await _close_stream(self._stream)
        self._duration_ms = _ms_since(self._started)
        self._end_span(exc)

    def __aiter__(self) -> ReplyStream:
        return self

    async def __anext__(self) -> str:
        """The next piece of answer text (chunks with only tool calls or usage are read on)."""
        while True:
            try:
                # litellm enforces the read timeout for most transports; this covers the rest.
                async with asyncio.timeout(self._call.timeout):
                    chunk = await anext(self._chunks)
            except StopAsyncIteration:
                raise
            except Exception as exc:
                raise self._failed(exc, showed_output=self._builder.has_output) from exc
            text = self._builder.add(chunk)
            if text:
                return text

    def reply(self) -> ModelReply:
        """The completed reply; call after the stream was read to its end and closed."""
        builder = self._builder
        return ModelReply(
            text="".join(builder.text_parts),
            tool_calls=builder.tool_calls(),
            prompt_tokens=builder.prompt_tokens,
            completion_tokens=builder.completion_tokens,
            finish_reason=builder.finish_reason,
            duration_ms=self._duration_ms
            if self._duration_ms is not None
            else _ms_since(self._started),
        )

    def _end_span(self, exc: BaseException | None) -> None:
        span, self._span = self._span, None
        if span is None:
            return
        builder = self._builder
        span.set_attribute("gen_ai.usage.input_tokens", builder.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", builder.completion_tokens)
        span.set_attribute("pyairtable_ui.tool_calls", len(builder.calls))
        if builder.finish_reason:
            span.set_attribute("gen_ai.response.finish_reasons", [builder.finish_reason])
        if isinstance(exc, Exception):
            # The provider's exception class, which says more than our wrapper's.
            cause = exc.__cause__ if isinstance(exc, LLMCallError) else None
            tracing.mark_failed(span, cause or exc)
        elif exc is not None:
            span.set_attribute("cancelled", True)  # Stop
        span.end()

    def _failed(self, exc: BaseException, *, showed_output: bool) -> LLMCallError:
        call = self._call
        # Every failed call passes here (the request and the stream): the alert counts it.
        LLM_ERRORS.labels(model=call.model, error=type(exc).__name__).inc()
        failure = describe_llm_error(
            exc,
            model=call.model,
            api_base=call.api_base,
            timeout=call.timeout,
            api_key=call.api_key,
        )
        return LLMCallError(
            failure, retry_after=retry_after_seconds(exc), showed_output=showed_output
        )


@dataclass
class _ToolCallParts:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ReplyBuilder:
    """Assembles one streamed reply: text, tool calls by index, usage."""

    def __init__(self) -> None:
        self.text_parts: list[str] = []
        self.calls: dict[int, _ToolCallParts] = {}  # by slot, in the order calls began
        self._slot_of: dict[int, int] = {}  # the provider's index -> our slot
        self._last_slot: int | None = None
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.finish_reason: str | None = None

    @property
    def has_output(self) -> bool:
        """Whether any text or tool call has arrived."""
        return bool(self.text_parts or self.calls)

    def add(self, chunk: Any) -> str:
        """Take one chunk in; return its new text."""
        usage = _field(chunk, "usage")
        if usage:
            self.prompt_tokens = int(_field(usage, "prompt_tokens") or 0)
            self.completion_tokens = int(_field(usage, "completion_tokens") or 0)
        text = ""
        for choice in _field(chunk, "choices") or []:
            if (_field(choice, "index") or 0) != 0:
                continue  # we ask for one choice; ignore any extra
            if _field(choice, "finish_reason"):
                self.finish_reason = _field(choice, "finish_reason")
            delta = _field(choice, "delta")
            if delta is None:
                continue
            content = _field(delta, "content")
            if content:
                text += content
            for part in _field(delta, "tool_calls") or []:
                self._add_tool_call_part(part)
        if text:
            self.text_parts.append(text)
        return text

    def _add_tool_call_part(self, part: Any) -> None:
        call_id = _field(part, "id")
        index = _field(part, "index")
        if index is None:
            # Some adapters omit the index: a new id starts a call, anything else continues one.
            slot = self._last_slot
            if slot is None or (call_id and self.calls[slot].id not in (None, call_id)):
                slot = self._new_slot()
        else:
            slot = self._slot_of.get(index)
            if slot is None or (call_id and self.calls[slot].id not in (None, call_id)):
                # Some adapters reuse index 0 for parallel calls; a new id means a new call.
                slot = self._new_slot()
                self._slot_of[index] = slot
        self._last_slot = slot
        entry = self.calls[slot]
        if call_id:
            entry.id = call_id
        function = _field(part, "function")
        name = _field(function, "name") if function is not None else None
        if name and name != entry.name:
            entry.name = name if not entry.name else entry.name + name
        arguments = _field(function, "arguments") if function is not None else None
        if arguments:
            entry.arguments.append(arguments)

    def _new_slot(self) -> int:
        slot = len(self.calls)
        self.calls[slot] = _ToolCallParts()
        return slot

    def tool_calls(self) -> list[dict[str, Any]]:
        """The completed calls in OpenAI message format, in the model's order."""
        calls = []
        for index in sorted(self.calls):
            parts = self.calls[index]
            arguments = "".join(parts.arguments)
            calls.append(
                {
                    # A call without an id could not be paired with its result.
                    "id": parts.id or f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {
                        "name": parts.name,
                        # "" means "no arguments" to most providers; send valid JSON back.
                        "arguments": arguments if arguments.strip() else "{}",
                    },
                }
            )
        return calls


async def _close_stream(stream: Any) -> None:
    """Close the HTTP stream now (also on Stop) so the connection is not left open."""
    close = getattr(stream, "aclose", None)
    if close is None:
        return
    try:
        async with asyncio.timeout(1.0):
            await close()
    except Exception as exc:
        # The stream is being abandoned anyway; a failure to close it is worth a note only.
        logger.debug("closing the model stream failed: %s: %s", type(exc).__name__, exc)


def _field(obj: Any, name: str) -> Any:
    """Read a field from litellm's objects or from plain dicts (some adapters yield those)."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
