"""OpenTelemetry traces of chat turns: the turn, each model call, tool call and Airtable request.

The third leg beside the logs and the metrics (`observability`). With
OTEL_EXPORTER_OTLP_ENDPOINT set, `configure_tracing` (run once per worker process at
start) sends the spans in batches over OTLP/HTTP to `<endpoint>/v1/traces`, as the
OpenTelemetry spec names it. Without it, the app's tracer is OpenTelemetry's no-op one:
a span costs a function call, and no exporter is imported or started.

    with span("chat.turn", {"pyairtable_ui.conversation_id": 7}) as turn:
        ...  # spans opened in here (also in tasks and threads started here) are its children
    record_span("airtable.request", seconds=0.12, attributes={...})  # already measured

Spans carry ids, names, counts and statuses, never message text, record contents or keys.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "AttributeValue",
    "Span",
    "configure_tracing",
    "mark_failed",
    "record_span",
    "span",
    "start_span",
]

logger = logging.getLogger(__name__)

TRACER_NAME = "pyairtable_ui"
DEFAULT_SERVICE_NAME = "pyairtable-ui"
AttributeValue = str | bool | int | float

_tracer: trace.Tracer = trace.NoOpTracer()
_provider: Any = None  # the SDK's TracerProvider, once configured


def configure_tracing(
    endpoint: str | None, *, exporter: SpanExporter | None = None, batch: bool = True
) -> bool:
    """Send this process's spans to `endpoint` over OTLP/HTTP, or trace nothing.

    Args:
        endpoint: OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://otel-collector:4318; None or
            empty (and no `exporter`) switches tracing off.
        exporter: Where spans go instead of OTLP (tests pass an in-memory one).
        batch: Send spans in the background in batches (False: as each ends, for tests).

    Returns:
        Whether spans are now recorded.
    """
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()  # sends what it still holds
        _provider = None
    if not endpoint and exporter is None:  # unset, or empty as in deploy/env.example
        _tracer = trace.NoOpTracer()
        return False
    # Imported only here: a process that does not trace never loads the exporter.
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{(endpoint or '').rstrip('/')}/v1/traces")
        logger.info("traces are sent over OTLP to %s", endpoint)
    service = os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(
        BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    )
    _provider = provider
    _tracer = provider.get_tracer(TRACER_NAME)
    return True


def start_span(name: str, attributes: Mapping[str, AttributeValue] | None = None) -> Span:
    """Start a span under the current one, without making it current; call `end()`."""
    return _tracer.start_span(name, attributes=attributes)


@contextmanager
def span(name: str, attributes: Mapping[str, AttributeValue] | None = None) -> Iterator[Span]:
    """A span around the block, current inside it; an exception marks it failed.

    Cancellation (Stop) is recorded as the span's `cancelled` attribute, not an error.
    """
    with _tracer.start_as_current_span(
        name, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as exc:
            if isinstance(exc, Exception):
                mark_failed(current, exc)
            else:
                current.set_attribute("cancelled", True)
            raise


def record_span(
    name: str,
    *,
    seconds: float,
    attributes: Mapping[str, AttributeValue],
    error: str | None = None,
) -> None:
    """A span for something that just ended and took `seconds` (e.g. one HTTP request).

    Args:
        name: The span's name.
        seconds: How long it took, up to now.
        attributes: What to note on it.
        error: Why it failed, if it did.
    """
    if isinstance(_tracer, trace.NoOpTracer):
        return
    end = time.time_ns()
    done = _tracer.start_span(name, attributes=attributes, start_time=end - int(seconds * 1e9))
    if error:
        done.set_status(Status(StatusCode.ERROR, error))
    done.end(end_time=end)


def mark_failed(target: Span, exc: BaseException, description: str | None = None) -> None:
    """Mark a span failed with the exception's class (its text may quote user data)."""
    target.set_attribute("error.type", type(exc).__name__)
    target.set_status(Status(StatusCode.ERROR, description or type(exc).__name__))
