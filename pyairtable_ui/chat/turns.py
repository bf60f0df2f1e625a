"""One chat turn: set it up, answer it, record it, and stop it when the user asks.

Plain Python (no Reflex). The chat page awaits `answer`: it stores the question
and builds the turn's client, tools and prompt (`prepare_turn`), then drives the
agent loop with the LLM settings, writes every event's rows through the turn's
`TurnRecorder`, and hands each event on to the page (`run_turn`).

Stop: each running turn is registered under a key the caller chooses (the chat
page uses its browser tab's token); `stop_turn(key)` stops the running tool and
cancels the model call at once. The registry is per process, and a tab's Stop may
arrive at another worker or replica (its websocket reconnected there): with
REDIS_URL set, a Stop for a turn not running here is published on a Redis channel
and the process running it cancels it at once. Without Redis (one process), or if
Redis misses it, the page's own "stop requested" flag stops the turn at its next event.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from redis import RedisError

from pyairtable_ui.airtable import budget as airtable_budget
from pyairtable_ui.airtable.access import client_for_user
from pyairtable_ui.airtable.errors import AirtableError
from pyairtable_ui.airtable.schema import schema_for_prompt
from pyairtable_ui.chat import agent, service
from pyairtable_ui.chat.prompts import build_system_prompt
from pyairtable_ui.core import redis as redis_channels
from pyairtable_ui.core import tracing
from pyairtable_ui.core.db import session_scope
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.settings import Settings, get_settings
from pyairtable_ui.tools import ToolContext, TurnTools, get_registry
from pyairtable_ui.tools.read_tools import history_read_record_text

logger = logging.getLogger(__name__)

# Older turns are summarised by what the model said; the context stays bounded.
HISTORY_TURNS = 20
TURN_FAILED_MESSAGE = "Something went wrong while answering. Try again."
# The Redis channel on which a Stop reaches the process running the turn.
STOP_CHANNEL = "turn-stop"
# Events that change no row: not worth a trip to the database thread.
_NOT_RECORDED = (agent.TextDelta, agent.StepStarted, agent.Usage)


class TurnSetupError(UserFacingError):
    """The turn cannot start; `message` says what the user should do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class StoppableTools(agent.ToolExecutor, Protocol):
    """The turn's tools, which Stop can interrupt (the registry's `TurnTools`)."""

    def cancel(self) -> None:
        """Stop the running tool before its next Airtable request."""
        ...


@dataclass
class PreparedTurn:
    """Everything `agent.run_turn` needs, made fresh for one turn."""

    history: list[dict[str, Any]]
    system_prompt: str
    tools: StoppableTools
    recorder: service.TurnRecorder
    model: str


@dataclass(frozen=True)
class TurnRequest:
    """What the user asked for, as the chat page knows it.

    Attributes:
        user_id: The signed-in user (checked by the caller).
        conversation_id: One of the user's conversations.
        base_id: The base the conversation is about, or None.
        base_name: The base's name as the switcher shows it, or None.
        model: The litellm model string to answer with (one the admin allows).
        question: The new user message, or None to answer the last one again.
    """

    user_id: int
    conversation_id: int
    base_id: str | None
    base_name: str | None
    model: str
    question: str | None


@dataclass(frozen=True)
class TurnOutcome:
    """How a turn ended, for the page (what it said is in the events it was shown).

    Attributes:
        started: False when the turn could not start: nothing ran, nothing to refresh.
        stopped: The turn was cancelled (Stop).
        error: A message to show: why it could not start, or that it broke (our bug).
            Provider errors are not here: they come as a `TurnError` event.
    """

    started: bool = True
    stopped: bool = False
    error: str | None = None


@dataclass
class _RunningTurn:
    """A turn in the Stop registry; `stopping` once it was cancelled."""

    task: asyncio.Task[Any]
    prepared: PreparedTurn
    loop: asyncio.AbstractEventLoop
    stopping: bool = False


class TurnRegistry:
    """The turns running in this process, by key, so Stop can cancel them at once.

    With a Redis URL, a Stop for a key not running here is published, and this
    registry listens for the Stops other processes publish (one thread per process,
    started with the first turn).
    """

    def __init__(self, redis_url: str | None) -> None:
        self._redis_url = redis_url
        self._turns: dict[str, _RunningTurn] = {}
        self._listener: redis_channels.Listener | None = None
        self._lock = threading.Lock()

    @property
    def listener(self) -> redis_channels.Listener | None:
        """The thread hearing other processes' Stops (None without Redis, or before a turn)."""
        return self._listener

    def add(self, turn_key: str, entry: _RunningTurn) -> None:
        """Register a running turn (one per key)."""
        self._turns[turn_key] = entry
        if self._redis_url and self._listener is None:
            with self._lock:
                if self._listener is None:
                    self._listener = redis_channels.Listener(
                        self._redis_url, STOP_CHANNEL, self._stop_heard
                    )

    def remove(self, turn_key: str, entry: _RunningTurn) -> None:
        """Forget a turn that ended (not a newer one under the same key)."""
        if self._turns.get(turn_key) is entry:
            del self._turns[turn_key]

    def stop(self, turn_key: str) -> bool:
        """Stop the turn under `turn_key` here, or tell the other processes to.

        Returns:
            Whether the turn runs in this process (also when it was already stopping).
        """
        entry = self._turns.get(turn_key)
        if entry is not None:
            self._stop_on_its_loop(entry)
            return True
        if self._redis_url:
            try:
                redis_channels.publish(self._redis_url, STOP_CHANNEL, turn_key)
            except RedisError as exc:
                # The page's "stop requested" flag still stops it at its next event.
                logger.warning("Stop not published: %s: %s", type(exc).__name__, exc)
        return False

    def close(self) -> None:
        """Stop listening (the turns themselves run on)."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _stop_heard(self, turn_key: str) -> None:
        """On the listener's thread: another process asked to stop `turn_key`."""
        entry = self._turns.get(turn_key)
        if entry is not None:
            logger.info("turn stopped through Redis by another process")
            entry.loop.call_soon_threadsafe(_cancel_once, entry)

    @staticmethod
    def _stop_on_its_loop(entry: _RunningTurn) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is entry.loop:
            _cancel_once(entry)
        else:
            entry.loop.call_soon_threadsafe(_cancel_once, entry)


def _cancel_once(entry: _RunningTurn) -> None:
    """Stop the turn's tool, then cancel its model call; only the first time."""
    if not entry.stopping:
        entry.stopping = True
        entry.prepared.tools.cancel()
        entry.task.cancel()


@functools.cache
def _registry_for(redis_url: str | None) -> TurnRegistry:
    return TurnRegistry(redis_url)


def turn_registry() -> TurnRegistry:
    """This process's registry, for the configured REDIS_URL."""
    return _registry_for(get_settings().redis_url)


async def answer(
    request: TurnRequest, on_event: agent.EventHandler, *, turn_key: str
) -> TurnOutcome:
    """Set up the turn, then answer it (see `prepare_turn` and `run_turn`).

    Args:
        request: The question and where it was asked.
        on_event: Awaited with every agent event after it is recorded; keep it short.
        turn_key: Names the turn for `stop_turn` (one running turn per key).

    Returns:
        How the turn ended; when it could not start, `started` is False and
        `error` says why.
    """
    try:
        prepared = await asyncio.to_thread(
            prepare_turn,
            user_id=request.user_id,
            conversation_id=request.conversation_id,
            base_id=request.base_id,
            base_name=request.base_name,
            model=request.model,
            question=request.question,
        )
    except UserFacingError as exc:
        return TurnOutcome(started=False, error=exc.message)
    return await run_turn(prepared, on_event, turn_key=turn_key)


async def run_turn(
    prepared: PreparedTurn, on_event: agent.EventHandler, *, turn_key: str
) -> TurnOutcome:
    """Drive the agent loop with the LLM settings; record each event, then pass it on.

    The loop runs in a task of its own, registered under `turn_key` until it ends,
    so `stop_turn(turn_key)` can cancel it from another handler.

    Args:
        prepared: The turn's history, prompt, tools and recorder (`prepare_turn`).
        on_event: Awaited with every event once its rows are written (a recorder
            error, e.g. the conversation deleted meanwhile, ends the turn instead).
        turn_key: Names the turn for `stop_turn`.

    Returns:
        How the turn ended: answered (also capped, or failed at the provider, as its
        events said), stopped, or broken with `TURN_FAILED_MESSAGE`.
    """
    settings = get_settings()

    async def record_then_show(event: agent.AgentEvent) -> None:
        if not isinstance(event, _NOT_RECORDED):
            await asyncio.to_thread(prepared.recorder.record, event)
        await on_event(event)

    attributes: dict[str, tracing.AttributeValue] = {
        "pyairtable_ui.conversation_id": prepared.recorder.conversation_id,
        "pyairtable_ui.user_id": prepared.recorder.user_id,
        "gen_ai.request.model": prepared.model,
    }
    # Current while the loop's task is created: its model, tool and Airtable spans nest here.
    with tracing.span("chat.turn", attributes) as turn_span:
        outcome = await _run_registered(prepared, record_then_show, turn_key, settings)
        turn_span.set_attribute(
            "pyairtable_ui.outcome",
            "stopped" if outcome.stopped else "failed" if outcome.error else "answered",
        )
    return outcome


async def _run_registered(
    prepared: PreparedTurn,
    on_event: agent.EventHandler,
    turn_key: str,
    settings: Settings,
) -> TurnOutcome:
    """The agent loop in a task of its own, in the Stop registry while it runs."""
    task = asyncio.create_task(
        agent.run_turn(
            history=prepared.history,
            system_prompt=prepared.system_prompt,
            tools=prepared.tools,
            model=prepared.model,
            api_base=settings.llm_api_base,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            timeout=settings.llm_timeout_seconds,
            max_steps=settings.llm_max_steps,
            on_event=on_event,
        )
    )
    registry = turn_registry()
    entry = _RunningTurn(task, prepared, asyncio.get_running_loop())
    registry.add(turn_key, entry)
    started = time.monotonic()
    try:
        await task
    except asyncio.CancelledError:
        logger.info("turn stopped by the user after %.1fs", time.monotonic() - started)
        return TurnOutcome(stopped=True)
    except Exception:
        # The loop maps provider errors itself; anything here is our bug.
        logger.exception("chat turn failed")
        return TurnOutcome(error=TURN_FAILED_MESSAGE)
    finally:
        registry.remove(turn_key, entry)
    return TurnOutcome()


def stop_turn(turn_key: str) -> bool:
    """Stop the turn running under `turn_key`: its tool now, then its model call.

    The turn is cancelled once. While it reports how it stopped (the running step
    marked stopped, then `TurnStopped`), a second Stop (a double click, or the page
    stopping it again from its event handler) must not cancel that report too:
    the step would spin and the answer never show as stopped until a reload.

    With REDIS_URL set, a turn running in another process (worker or replica) is
    stopped through Redis, within a fraction of a second.

    Args:
        turn_key: The key the turn was started with.

    Returns:
        Whether a turn was running under that key in this process (also when it
        was already stopping).
    """
    return turn_registry().stop(turn_key)


def budget_refusal(user_id: int) -> str | None:
    """Why a turn may not start: a monthly LLM budget spent, or the Airtable budget used up.

    The Airtable budget is enforced by the client on every request; asking here first
    tells the user plainly, instead of through the model's account of a failed tool.

    Args:
        user_id: Who asks.

    Returns:
        The reason for the user, or None when the turn may start.
    """
    with session_scope() as db:
        refused = service.llm_budget_refusal(session=db, user_id=user_id)
    if refused:
        return refused
    status = airtable_budget.current_status()
    return airtable_budget.refusal(status).message if status.exhausted else None


def prepare_turn(
    *,
    user_id: int,
    conversation_id: int,
    base_id: str | None,
    base_name: str | None,
    model: str,
    question: str | None,
) -> PreparedTurn:
    """Store the question and build the turn's client, tools, history and prompt.

    The base schema comes from the cache when fresh (no Airtable call), else is
    fetched once through the turn's client, so it counts as one of the turn's calls.

    Args:
        user_id: The signed-in user (checked by the caller).
        conversation_id: One of the user's conversations.
        base_id: The base the conversation is about, or None.
        base_name: The base's name as the switcher shows it.
        model: The litellm model string to answer with (one the admin allows).
        question: The new user message, or None to answer the last one again.

    Returns:
        The prepared turn.

    Raises:
        TurnSetupError: A monthly budget is used up, Airtable is not connected, the
            token cannot be read, or
            the base cannot be read.
        service.ConversationNotFoundError: Not this user's conversation.
    """
    settings = get_settings()
    refused = budget_refusal(user_id)
    if refused:
        raise TurnSetupError(refused)
    try:
        client = client_for_user(user_id)
    except UserFacingError as exc:
        raise TurnSetupError(exc.message) from exc
    with session_scope() as db:
        service.set_conversation_context(
            session=db,
            conversation_id=conversation_id,
            user_id=user_id,
            base_id=base_id,
            model=model,
        )

    ctx = ToolContext(
        user_id=user_id,
        base_id=base_id,
        client=client,
        session_factory=session_scope,
        conversation_id=conversation_id,
        confirm_threshold=settings.confirm_threshold,
    )
    schema_text = ""
    if base_id:
        try:
            schema_text = schema_for_prompt(ctx.schema())
        except AirtableError as exc:
            logger.info("turn: base schema unreadable: %r", exc)
            raise TurnSetupError(exc.message) from exc

    recorder = service.TurnRecorder(conversation_id=conversation_id, user_id=user_id, model=model)
    if question is not None:
        recorder.add_user_message(question)
    with session_scope() as db:
        history = service.history_for_llm(
            session=db, conversation_id=conversation_id, user_id=user_id, max_turns=HISTORY_TURNS
        )
    # Record text read in earlier turns is still in what the model reads.
    ctx.read_record_text = history_read_record_text(history)
    prompt = build_system_prompt(base_name=base_name, base_id=base_id, schema_text=schema_text)
    return PreparedTurn(
        history=history,
        system_prompt=prompt,
        tools=TurnTools(get_registry(), ctx),
        recorder=recorder,
        model=model,
    )
