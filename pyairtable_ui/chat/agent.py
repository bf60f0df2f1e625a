"""The agent loop: stream the model's answer, run the tools it asks for, repeat.

One call of `run_turn` answers one user message. It streams a model call with
the tool schemas through `llm.client` (the only way to the provider), reports
everything that happens as events (text deltas, tool steps, each completed
assistant message with its usage), runs the requested tools one after another,
feeds their results back and calls the model again, until the model answers in
text or the step cap is reached.

Stopping: the caller cancels the task running `run_turn`. Cancellation goes
through the stream read and the running tool at once; before `CancelledError`
propagates, `run_turn` reports a `TurnStopped` event with the partial text so the
caller can persist it. It starts no background tasks, so nothing outlives it.

Retries: the OpenAI SDK's own retries are off (`max_retries=0`): they would wait
out a long Retry-After with nothing on screen. Instead the loop retries a rate
limit or a 5xx itself, at most `max_retries` times, only before any output of
that model call was shown, and only when the provider asks for a short wait.

Imports no Reflex, and no provider library: it knows models only by name.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyairtable_ui.core import tracing
from pyairtable_ui.core.observability import LLM_TOKENS
from pyairtable_ui.llm.client import (
    LLMCallError,
    ModelCall,
    ModelReply,
    estimate_cost,
    open_reply_stream,
)
from pyairtable_ui.llm.errors import MAX_RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)

STEP_LIMIT_NOTICE = "I stopped after {steps} steps; ask me to continue."
STOPPED_TOOL_RESULT = "Stopped by the user before it finished; it may not have run completely."
# Text is sent to the UI in batches so a fast model does not flood the websocket.
FLUSH_INTERVAL_SECONDS = 0.05
FLUSH_CHARS = 40
MAX_SUMMARY_CHARS = 120


# --- the tools side ------------------------------------------------------------------


@dataclass(frozen=True)
class ToolOutcome:
    """What one tool call produced.

    Attributes:
        content: The text the model gets back (also for errors it should act on).
        is_error: Whether the call failed (bad arguments, unknown tool, Airtable error).
        display: Optional data for the step in the UI (e.g. a `summary`, a small table).
        action_id: The proposed write action, when the tool planned one.
    """

    content: str
    is_error: bool = False
    display: dict[str, Any] | None = None
    action_id: int | None = None


class ToolOutcomeLike(Protocol):
    """Any result with the fields of `ToolOutcome` (e.g. the registry's `ToolResult`)."""

    @property
    def content(self) -> str: ...

    @property
    def is_error(self) -> bool: ...

    @property
    def display(self) -> dict[str, Any] | None: ...

    @property
    def action_id(self) -> int | None: ...


class ToolExecutor(Protocol):
    """The tools one turn may call. Make one per turn: its Airtable counter is per turn."""

    def schemas(self) -> list[dict[str, Any]]:
        """The tool definitions in the OpenAI `tools` format."""
        ...

    async def call(self, name: str, raw_arguments: str, call_id: str) -> ToolOutcomeLike:
        """Run one tool with the arguments exactly as the model sent them.

        Invalid JSON and unknown names must come back as an error outcome whose
        content tells the model what to fix, not as an exception.
        """
        ...

    def airtable_calls(self) -> int:
        """Airtable requests made for this turn so far."""
        ...


# --- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StepStarted:
    """A model call begins (step 1 is the first call of the turn)."""

    step: int
    model: str


@dataclass(frozen=True)
class TextDelta:
    """More answer text; append it to the message being streamed."""

    step: int
    text: str


@dataclass(frozen=True)
class AssistantMessage:
    """A model call completed: persist this message (and clear the streamed text).

    Emitted before the tools it asks for run, so its row precedes theirs.
    `airtable_calls` counts this turn's calls not attributed to a tool (e.g. the
    schema fetched for the prompt through the same executor); set on the last message.
    """

    step: int
    content: str
    tool_calls: list[dict[str, Any]] | None
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    duration_ms: int = 0
    finish_reason: str | None = None
    airtable_calls: int = 0


@dataclass(frozen=True)
class ToolStarted:
    """A tool call begins: show it as a running step."""

    step: int
    call_id: str
    name: str
    arguments_text: str


@dataclass(frozen=True)
class ToolFinished:
    """A tool call ended (done, failed, or stopped by the user): update its step.

    `content` is what the model got back; persist it as the tool message.
    """

    step: int
    call_id: str
    name: str
    content: str
    is_error: bool
    duration_ms: int
    summary: str
    display: dict[str, Any] | None = None
    action_id: int | None = None
    airtable_calls: int = 0
    stopped: bool = False


@dataclass(frozen=True)
class Usage:
    """Token use and cost of the turn so far (cost None when the model's price is unknown)."""

    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None


@dataclass(frozen=True)
class TurnError:
    """The turn failed: show `message`; log `detail` (never contains the API key)."""

    message: str
    detail: str
    step: int
    partial_text: str = ""
    airtable_calls: int = 0  # this turn's calls not attributed to a tool


@dataclass
class TurnResult:
    """How a turn ended, with its totals.

    Attributes:
        partial_text: Text of a model call cut short by Stop or by an error.
        stopped: The user stopped the turn (reported in `TurnStopped`).
        error: Why the turn failed, if it did.
        steps: Model calls made.
        prompt_tokens: Prompt tokens over all model calls.
        completion_tokens: Completion tokens over all model calls.
        cost_usd: Total cost, or None when the model's price is unknown.
        airtable_calls: `tools.airtable_calls()` when the turn ended.
        new_messages: The assistant and tool messages added, in OpenAI format.
    """

    partial_text: str = ""
    stopped: bool = False
    error: TurnError | None = None
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    airtable_calls: int = 0
    new_messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class TurnStopped:
    """The user stopped the turn; `result.partial_text` is what was streamed so far.

    Emitted just before `CancelledError` propagates out of `run_turn`.
    """

    result: TurnResult


@dataclass(frozen=True)
class TurnDone:
    """The turn ended without being stopped (answered, capped, or failed)."""

    result: TurnResult


AgentEvent = (
    StepStarted
    | TextDelta
    | AssistantMessage
    | ToolStarted
    | ToolFinished
    | Usage
    | TurnError
    | TurnStopped
    | TurnDone
)
EventHandler = Callable[[AgentEvent], Awaitable[None]]


# --- the loop -------------------------------------------------------------------------


async def run_turn(
    *,
    history: list[dict[str, Any]],
    system_prompt: str,
    tools: ToolExecutor,
    model: str,
    api_base: str | None,
    api_key: str | None,
    timeout: float,  # noqa: ASYNC109 - the model call's HTTP timeout, not a deadline
    max_steps: int,
    on_event: EventHandler,
    max_retries: int = 1,
    retry_delay: float = 1.0,
) -> TurnResult:
    """Answer the last user message of `history`, calling tools as the model asks.

    Args:
        history: The conversation in OpenAI format, ending with the new user message
            (see `service.history_for_llm`). Not modified.
        system_prompt: The system message (see `prompts.build_system_prompt`).
        tools: The tools this turn may call.
        model: A litellm model string, e.g. `openai/gpt-4o-mini`.
        api_base: The provider address, or None for the provider's default.
        api_key: The provider key, or None to let litellm read its env variables.
        timeout: Seconds to wait for the model to start answering, and between chunks.
        max_steps: Most model calls in this turn.
        on_event: Awaited with every event, in order; keep it short (it paces the stream).
        max_retries: Own retries of a rate limit or 5xx before any output (SDK retries are off).
        retry_delay: First wait between retries when the provider names none; doubles.

    Returns:
        The turn's result (also sent in the final `TurnDone` event). Provider errors
        do not raise: they end the turn with `result.error` set and a `TurnError` event.

    Raises:
        asyncio.CancelledError: When the task was cancelled (Stop); `TurnStopped` was
            emitted first.
    """
    turn = _Turn(
        history=history,
        system_prompt=system_prompt,
        tools=tools,
        model=model,
        api_base=api_base,
        api_key=api_key,
        timeout=timeout,
        max_steps=max(1, max_steps),
        on_event=on_event,
        max_retries=max(0, max_retries),
        retry_delay=retry_delay,
    )
    return await turn.run()


class _Turn:
    """The state of one running turn, so that Stop can report what was there."""

    def __init__(
        self,
        *,
        history: list[dict[str, Any]],
        system_prompt: str,
        tools: ToolExecutor,
        model: str,
        api_base: str | None,
        api_key: str | None,
        timeout: float,
        max_steps: int,
        on_event: EventHandler,
        max_retries: int,
        retry_delay: float,
    ) -> None:
        self.tools = tools
        self.model = model
        self.api_base = api_base
        self.call = ModelCall(model=model, api_base=api_base, api_key=api_key, timeout=timeout)
        self.max_steps = max_steps
        self.on_event = on_event
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": system_prompt},
            *copy.deepcopy(history),
        ]
        self.result = TurnResult()
        self.streaming_text = ""  # text of the model call in progress
        self.running_tool: tuple[int, str, str, float, int] | None = None
        self.attributed_airtable_calls = 0
        self.known_costs: list[float] = []

    async def run(self) -> TurnResult:
        try:
            await self._loop()
        except asyncio.CancelledError:
            await self._report_stopped()
            raise
        return self.result

    async def _loop(self) -> None:
        schemas = self.tools.schemas()
        while True:
            self.result.steps += 1
            step = self.result.steps
            self.streaming_text = ""
            await self.on_event(StepStarted(step=step, model=self.model))
            try:
                reply = await self._call_model(step, schemas)
            except LLMCallError as failed:
                await self._fail(failed, step)
                return
            self.streaming_text = ""
            cost = self._add_usage(reply)

            message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
            if reply.tool_calls:
                message["tool_calls"] = reply.tool_calls
            self.messages.append(message)
            self.result.new_messages.append(message)
            final = not reply.tool_calls
            await self.on_event(
                AssistantMessage(
                    step=step,
                    content=reply.text,
                    tool_calls=reply.tool_calls or None,
                    model=self.model,
                    prompt_tokens=reply.prompt_tokens,
                    completion_tokens=reply.completion_tokens,
                    cost_usd=cost,
                    duration_ms=reply.duration_ms,
                    finish_reason=reply.finish_reason,
                    airtable_calls=self._unattributed_airtable_calls() if final else 0,
                )
            )
            await self.on_event(
                Usage(
                    prompt_tokens=self.result.prompt_tokens,
                    completion_tokens=self.result.completion_tokens,
                    cost_usd=self.result.cost_usd,
                )
            )
            if final:
                break

            # One at a time: writes must keep their order and Airtable's rate limit is per base.
            for call in reply.tool_calls:
                await self._run_tool(step, call)

            if step >= self.max_steps:
                await self._stop_at_step_limit(step)
                break
        self.result.airtable_calls = self._airtable_calls_now()
        await self.on_event(TurnDone(result=self.result))

    async def _call_model(self, step: int, schemas: list[dict[str, Any]]) -> ModelReply:
        attempt = 0
        while True:
            try:
                return await self._stream_once(step, schemas)
            except LLMCallError as failed:
                if failed.showed_output or not failed.failure.retryable:
                    raise
                if attempt >= self.max_retries:
                    raise
                wait = failed.retry_after
                if wait is None:
                    wait = self.retry_delay * (2**attempt)
                if wait > MAX_RETRY_AFTER_SECONDS:
                    raise
                attempt += 1
                logger.warning(
                    "model call failed, retrying in %.2fs (attempt %d of %d): %s",
                    wait,
                    attempt,
                    self.max_retries,
                    failed.failure.detail,
                    extra={"model": self.model, "step": step},
                )
                await asyncio.sleep(wait)

    async def _stream_once(self, step: int, schemas: list[dict[str, Any]]) -> ModelReply:
        pending = ""
        last_flush = time.monotonic()
        async with open_reply_stream(self.call, messages=self.messages, tools=schemas) as stream:
            async for text in stream:
                self.streaming_text += text
                pending += text
                now = time.monotonic()
                if len(pending) >= FLUSH_CHARS or now - last_flush >= FLUSH_INTERVAL_SECONDS:
                    await self.on_event(TextDelta(step=step, text=pending))
                    pending = ""
                    last_flush = now
            if pending:
                await self.on_event(TextDelta(step=step, text=pending))
        return stream.reply()

    def _add_usage(self, reply: ModelReply) -> float | None:
        self.result.prompt_tokens += reply.prompt_tokens
        self.result.completion_tokens += reply.completion_tokens
        if reply.prompt_tokens:
            LLM_TOKENS.labels(model=self.model, kind="prompt").inc(reply.prompt_tokens)
        if reply.completion_tokens:
            LLM_TOKENS.labels(model=self.model, kind="completion").inc(reply.completion_tokens)
        cost = None
        if reply.prompt_tokens or reply.completion_tokens:
            cost = estimate_cost(self.model, reply.prompt_tokens, reply.completion_tokens)
        else:
            logger.info("the provider reported no token usage", extra={"model": self.model})
        if cost is not None:
            self.known_costs.append(cost)
            self.result.cost_usd = sum(self.known_costs)
        logger.info(
            "model call done: %d+%d tokens, %d tool calls, %d ms",
            reply.prompt_tokens,
            reply.completion_tokens,
            len(reply.tool_calls),
            reply.duration_ms,
            extra={"model": self.model, "finish_reason": reply.finish_reason},
        )
        return cost

    async def _run_tool(self, step: int, call: dict[str, Any]) -> None:
        call_id = call["id"]
        name = call["function"]["name"]
        # Passed through untouched, invalid JSON included: the registry answers the model.
        arguments = call["function"]["arguments"]
        await self.on_event(
            ToolStarted(step=step, call_id=call_id, name=name, arguments_text=arguments)
        )
        calls_before = self._airtable_calls_now()
        started = time.monotonic()
        self.running_tool = (step, call_id, name, started, calls_before)
        outcome: ToolOutcomeLike
        with tracing.span(
            "tool.call", {"gen_ai.tool.name": name, "gen_ai.tool.call.id": call_id}
        ) as tool_span:
            try:
                outcome = await self.tools.call(name, arguments, call_id)
            except Exception as exc:
                # A bug in a tool must not end the turn: the model hears it failed, carries on.
                logger.exception("tool %s raised instead of returning an error", name)
                tracing.mark_failed(tool_span, exc)
                outcome = ToolOutcome(
                    content=(
                        f"The tool {name} failed unexpectedly ({type(exc).__name__}). "
                        "Try another way or tell the user."
                    ),
                    is_error=True,
                )
            if outcome.action_id is not None:
                tool_span.set_attribute("pyairtable_ui.action_id", outcome.action_id)
            tool_span.set_attribute("pyairtable_ui.tool_failed", outcome.is_error)
        self.running_tool = None
        duration_ms = _ms_since(started)
        calls = max(0, self._airtable_calls_now() - calls_before)
        self.attributed_airtable_calls += calls
        tool_message = {"role": "tool", "tool_call_id": call_id, "content": outcome.content}
        self.messages.append(tool_message)
        self.result.new_messages.append(tool_message)
        logger.info(
            "tool %s %s in %d ms, %d Airtable calls",
            name,
            "failed" if outcome.is_error else "done",
            duration_ms,
            calls,
            extra={"tool": name, "step": step},
        )
        await self.on_event(
            ToolFinished(
                step=step,
                call_id=call_id,
                name=name,
                content=outcome.content,
                is_error=outcome.is_error,
                duration_ms=duration_ms,
                summary=_summary(outcome),
                display=outcome.display,
                action_id=outcome.action_id,
                airtable_calls=calls,
            )
        )

    async def _stop_at_step_limit(self, step: int) -> None:
        notice = STEP_LIMIT_NOTICE.format(steps=step)
        logger.info("turn stopped at the step limit", extra={"steps": step})
        message = {"role": "assistant", "content": notice}
        # Kept in the history so that "continue" reads naturally to the model.
        self.messages.append(message)
        self.result.new_messages.append(message)
        await self.on_event(
            AssistantMessage(
                step=step,
                content=notice,
                tool_calls=None,
                model=self.model,
                airtable_calls=self._unattributed_airtable_calls(),
            )
        )

    async def _fail(self, failed: LLMCallError, step: int) -> None:
        logger.warning(
            "model call failed: %s",
            failed.failure.detail,
            extra={"model": self.model, "step": step, "api_base": self.api_base},
        )
        error = TurnError(
            message=failed.message,
            detail=failed.failure.detail,
            step=step,
            partial_text=self.streaming_text,
            airtable_calls=self._unattributed_airtable_calls(),
        )
        self.result.error = error
        self.result.partial_text = self.streaming_text
        self.result.airtable_calls = self._airtable_calls_now()
        await self.on_event(error)
        await self.on_event(TurnDone(result=self.result))

    async def _report_stopped(self) -> None:
        self.result.stopped = True
        self.result.partial_text = self.streaming_text
        self.result.airtable_calls = self._airtable_calls_now()
        try:
            if self.running_tool is not None:
                step, call_id, name, started, calls_before = self.running_tool
                self.running_tool = None
                await self.on_event(
                    ToolFinished(
                        step=step,
                        call_id=call_id,
                        name=name,
                        content=STOPPED_TOOL_RESULT,
                        is_error=True,
                        duration_ms=_ms_since(started),
                        summary="Stopped",
                        airtable_calls=max(0, self._airtable_calls_now() - calls_before),
                        stopped=True,
                    )
                )
            await self.on_event(TurnStopped(result=self.result))
        except Exception:
            # The cancellation must still propagate; the caller's handler failing is logged.
            logger.exception("reporting the stopped turn failed")
        logger.info("turn stopped by the user", extra={"steps": self.result.steps})

    def _airtable_calls_now(self) -> int:
        try:
            return int(self.tools.airtable_calls())
        except Exception:
            logger.exception("the tool executor could not count its Airtable calls")
            return self.attributed_airtable_calls

    def _unattributed_airtable_calls(self) -> int:
        return max(0, self._airtable_calls_now() - self.attributed_airtable_calls)


def _summary(outcome: ToolOutcomeLike) -> str:
    if outcome.display and isinstance(outcome.display.get("summary"), str):
        text = outcome.display["summary"]
    else:
        text = next((line for line in outcome.content.splitlines() if line.strip()), "")
    text = " ".join(text.split())
    if len(text) > MAX_SUMMARY_CHARS:
        text = text[: MAX_SUMMARY_CHARS - 1].rstrip() + "…"
    return text


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
