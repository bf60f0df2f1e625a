"""Traces: nothing loaded or sent without OTEL_EXPORTER_OTLP_ENDPOINT, OTLP/HTTP with it.

The span tree of a chat turn is tested with the turn (tests/unit/chat/test_turns.py).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pyairtable_ui.core import tracing


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that keeps what it was sent."""

    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((self.path, self.headers.get("Content-Type") or "", body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    _Collector.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Collector.received
    server.shutdown()
    server.server_close()


def test_spans_go_over_otlp_http_to_the_endpoints_traces_path(collector) -> None:
    url, received = collector
    assert tracing.configure_tracing(url + "/")
    try:
        with tracing.span("chat.turn", {"pyairtable_ui.conversation_id": 7}):
            tracing.record_span(
                "airtable.request", seconds=0.05, attributes={"http.request.method": "GET"}
            )
    finally:
        tracing.configure_tracing(None)  # sends what the batch still holds

    [(path, content_type, body)] = received
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert b"chat.turn" in body and b"airtable.request" in body and b"pyairtable-ui" in body


def test_without_an_endpoint_the_exporter_is_never_loaded_and_spans_record_nothing() -> None:
    # (The SDK itself may be loaded: the redis client imports it for its own metrics.)
    probe = (
        "import sys\n"
        "from pyairtable_ui.chat import turns\n"
        "from pyairtable_ui.core import tracing\n"
        "from pyairtable_ui.core.settings import get_settings\n"
        "assert get_settings().otel_exporter_otlp_endpoint is None\n"
        "assert tracing.configure_tracing(get_settings().otel_exporter_otlp_endpoint) is False\n"
        "assert tracing.configure_tracing('') is False\n"
        "with tracing.span('chat.turn') as turn:\n"
        "    tracing.record_span('airtable.request', seconds=0.1, attributes={})\n"
        "    assert not turn.is_recording()\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry.exporter')))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "test"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]"]
