"""Every Reflex event is counted by handler and outcome, and foreground ones are timed."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY
from reflex_base.event import Event

import pyairtable_ui.pyairtable_ui  # noqa: F401  (registers every page and its state)
from pyairtable_ui.pages.login import LoginState
from pyairtable_ui.state.event_metrics import EventMetricsMiddleware


def count(handler: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "pyairtable_ui_events_total", {"handler": handler, "outcome": outcome}
    )
    return value or 0.0


def timed(handler: str) -> tuple[float, float]:
    """How many events of the handler were timed, and their total seconds."""
    labels = {"handler": handler}
    events = REGISTRY.get_sample_value("pyairtable_ui_event_seconds_count", labels) or 0.0
    seconds = REGISTRY.get_sample_value("pyairtable_ui_event_seconds_sum", labels) or 0.0
    return events, seconds


async def run_event(handler_name: str, body) -> None:
    """Run `body` in an event's own task, after the middleware saw the event (as Reflex does)."""
    event = Event(name=LoginState.get_full_name() + "." + handler_name, payload={})

    async def event_task() -> None:
        await EventMetricsMiddleware().preprocess(app=None, state=None, event=event)  # type: ignore[arg-type]
        await body()

    await asyncio.create_task(event_task())
    await asyncio.sleep(0)  # done-callbacks run on the next loop turn


async def test_a_finished_event_is_counted_and_timed_under_its_handler() -> None:
    before_ok = count("LoginState.on_load", "ok")
    before_timed, before_seconds = timed("LoginState.on_load")

    await run_event("on_load", lambda: asyncio.sleep(0.05))

    assert count("LoginState.on_load", "ok") == before_ok + 1
    after_timed, after_seconds = timed("LoginState.on_load")
    assert after_timed == before_timed + 1
    assert after_seconds - before_seconds >= 0.05


async def test_a_failed_event_is_counted_as_an_error() -> None:
    before = count("LoginState.login", "error")

    async def fails() -> None:
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        await run_event("login", fails)
    await asyncio.sleep(0)

    assert count("LoginState.login", "error") == before + 1
