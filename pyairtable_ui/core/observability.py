"""Structured logs with request ids, and the Prometheus metrics every domain records.

Imports no Reflex. Metrics live here so services record them without knowing
how they are served; `/metrics` exposes them (across worker processes when
PROMETHEUS_MULTIPROC_DIR is set, as `make run` does with Redis).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Attributes every LogRecord has; anything else passed in `extra` is logged as a field.
_STANDARD_RECORD_KEYS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def new_request_id() -> str:
    """A short random id tying log lines of one request or event together."""
    return secrets.token_hex(8)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_RECORD_KEYS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send the app's logs to stderr as JSON lines; idempotent.

    Args:
        level: The minimum level for the app's own loggers.
    """
    logger = logging.getLogger("pyairtable_ui")
    if any(getattr(h, "_pyairtable_ui", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    handler._pyairtable_ui = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


HTTP_REQUESTS = Counter(
    "pyairtable_ui_http_requests_total",
    "HTTP requests served by the app's own routes.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "pyairtable_ui_http_request_seconds",
    "Latency of the app's own HTTP routes.",
    ["route"],
)
EVENTS = Counter(
    "pyairtable_ui_events_total",
    "Reflex events handled, by handler and outcome.",
    ["handler", "outcome"],
)
EVENT_LATENCY = Histogram(
    "pyairtable_ui_event_seconds",
    "Time to process one Reflex event (excluding background work).",
    ["handler"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def record_event(handler: str, outcome: str, seconds: float | None) -> None:
    """Count one Reflex event and, for a foreground one, how long it took.

    Args:
        handler: "StateName.handler_name" (bounded: one per handler the app defines).
        outcome: "ok", "error" or "cancelled".
        seconds: From the event's turn under its state lock to its end; None for a
            background event, whose work is not event latency.
    """
    EVENTS.labels(handler=handler, outcome=outcome).inc()
    if seconds is not None:
        EVENT_LATENCY.labels(handler=handler).observe(seconds)


AIRTABLE_REQUESTS = Counter(
    "pyairtable_ui_airtable_requests_total",
    "Requests sent to Airtable, by method and status.",
    ["method", "status"],
)
LLM_TOKENS = Counter(
    "pyairtable_ui_llm_tokens_total",
    "Tokens used by LLM calls.",
    ["model", "kind"],
)
LLM_ERRORS = Counter(
    "pyairtable_ui_llm_errors_total",
    "LLM calls that failed (the request or its stream), by model and error class.",
    ["model", "error"],
)
LOGINS = Counter(
    "pyairtable_ui_logins_total",
    "Login attempts, by outcome.",
    ["outcome"],
)
ACTIONS = Counter(
    "pyairtable_ui_actions_total",
    "Write actions by tool and final status.",
    ["tool", "status"],
)


def render_metrics() -> tuple[bytes, str]:
    """The current metrics in Prometheus text format, summed over worker processes.

    Returns:
        The body and its content type.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
