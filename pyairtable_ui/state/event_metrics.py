"""Every Reflex event counted and timed, for `/metrics` (`pyairtable_ui_events_total`).

Reflex 0.10 calls a middleware's `preprocess` before each event (under the state
lock, inside the event's own task) and no longer calls `postprocess`. So the
middleware notes the start and hangs a done-callback on that task, which records the
outcome and latency when the handler (with everything it yielded) has finished.
Per event this costs a dict lookup, a clock read and one callback.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

import reflex as rx
from reflex.middleware import Middleware
from reflex.state import BaseState
from reflex_base.registry import RegistrationContext

from pyairtable_ui.core.observability import record_event


@functools.cache
def _handler_label(event_name: str) -> tuple[str, bool] | None:
    # Only registered handlers reach a middleware, so this cache is bounded by the app.
    registered = RegistrationContext.get().event_handlers.get(event_name)
    if registered is None:
        return None
    state_name = registered.states[0].__name__
    return f"{state_name}.{event_name.rpartition('.')[2]}", registered.handler.is_background


def _record_when_done(label: str, background: bool, started: float, task: asyncio.Task) -> None:
    if task.cancelled():
        outcome = "cancelled"
    elif task.exception() is not None:
        outcome = "error"
    else:
        outcome = "ok"
    record_event(label, outcome, None if background else time.perf_counter() - started)


class EventMetricsMiddleware(Middleware):
    """Counts each event by handler and outcome; times the foreground ones."""

    async def preprocess(self, app: rx.App, state: BaseState, event: Any) -> None:
        """Start the event's clock; never answers the event itself."""
        task = asyncio.current_task()
        found = _handler_label(event.name)
        if task is None or found is None:
            return None
        label, background = found
        task.add_done_callback(
            functools.partial(_record_when_done, label, background, time.perf_counter())
        )
        return None
