"""An OpenAI-compatible chat-completions server that answers from a script.

litellm reaches it as ``model="openai/<name>"`` with ``api_base=<url>/v1``; it
speaks the same wire format as api.openai.com (JSON answers, SSE streams with
tool-call deltas and an optional usage chunk, OpenAI error bodies), so the app
under test goes through litellm's and the OpenAI SDK's real HTTP code.

It runs on the standard library's ``ThreadingHTTPServer``: one thread per
connection, so a hung or slow reply never blocks other requests.
"""

from __future__ import annotations

import copy
import json
import math
import re
import select
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.llm.script import Reply, ReplyLike, ScriptedError, coerce_reply, new_id

__all__ = ["DEFAULT_MODEL", "DEMO_TEXT", "UNSCRIPTED_TEXT", "ScriptedLLM"]

DEFAULT_MODEL = "scripted-test"
"""Model name listed by ``/v1/models``; any name is accepted in requests."""

UNSCRIPTED_TEXT = "[scripted-llm] no reply queued"
"""What the server answers when its queue is empty (it never hangs instead)."""

DEMO_TEXT = (
    "[scripted-llm demo] This is a canned demo answer from the fake LLM, not a real "
    "model: no question is actually read or answered here."
)
"""What ``--demo`` mode answers when nothing is queued."""

# How long a `hang=True` reply holds the connection at most, so a forgotten
# hang cannot keep a thread alive for ever.
_HANG_LIMIT_S = 600.0
# How often waits look at the socket and the stop flag.
_POLL_S = 0.02
_SECRET_HEADERS = {"authorization", "api-key", "x-api-key", "proxy-authorization"}


class _ClientGone(OSError):
    """The client closed the connection (or the server is stopping) mid-reply."""


class ScriptedLLM:
    """A scripted, recording OpenAI-compatible LLM server on loopback.

    Example:
        >>> with ScriptedLLM() as llm:
        ...     llm.queue(Reply(tool_calls=[ToolCall("list_bases", {})]), "Done.")
        ...     # point the app at llm.api_base with model "openai/scripted-test"
        ...     sent = llm.requests[0]["messages"]

    Attributes:
        host: Interface to bind.
        demo: When True, an empty queue answers ``DEMO_TEXT`` instead of
            ``UNSCRIPTED_TEXT``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        demo: bool = False,
        verbose: bool = False,
        responder: Callable[[list[dict[str, Any]]], Reply] | None = None,
    ) -> None:
        """Prepare the server; nothing listens until ``start()``.

        Args:
            host: Interface to bind (loopback by default).
            port: TCP port; 0 picks a free one (read it back from ``.port``).
            demo: Answer ``DEMO_TEXT`` when no reply is queued.
            verbose: Log each HTTP request to stderr.
            responder: When nothing is queued, the reply is ``responder(messages)``
                (the `make demo` tour, ``tests.fakes.llm.tour``).
        """
        self.host = host
        self.demo = demo
        self.responder = responder
        self.verbose = verbose
        self._requested_port = port
        self._lock = threading.Lock()
        # One queue per model name plus the default queue (key None); an entry
        # is [reply, times_left] so `repeat` can serve it several times.
        self._queues: dict[str | None, deque[list[Any]]] = {None: deque()}
        self._records: list[dict[str, Any]] = []
        self._new_record = threading.Condition(self._lock)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- life

    def start(self) -> ScriptedLLM:
        """Bind and serve in a background thread.

        Returns:
            This server, so ``llm = ScriptedLLM().start()`` reads well.

        Raises:
            RuntimeError: When already started.
        """
        if self._httpd is not None:
            raise RuntimeError("ScriptedLLM already started")
        httpd = _HTTPServer((self.host, self._requested_port), _Handler, self)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"scripted-llm:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end slow or hung replies and close every connection.

        Safe to call twice.
        """
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.close_all_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedLLM:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (only meaningful once started)."""
        if self._httpd is None:
            return self._requested_port
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:5555``."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_base(self) -> str:
        """What to give litellm as ``api_base`` (``LLM_API_BASE``): ``url + "/v1"``."""
        return self.url + "/v1"

    # --------------------------------------------------------------- script

    def queue(self, *replies: ReplyLike, model: str | None = None) -> ScriptedLLM:
        """Append replies to serve, in order.

        Args:
            *replies: ``Reply`` objects, or shorthands: a string (text reply),
                a ``ToolCall`` (reply with just that call) or a dict in
                ``Reply.from_dict`` form.
            model: Queue for requests naming this model (the name litellm
                sends, i.e. without the ``openai/`` prefix). A request takes
                from its model's queue first, then from the default queue, so
                tests sharing a server can use distinct model names.

        Returns:
            This server, for chaining.

        Raises:
            ValueError: When a reply cannot be read.
        """
        coerced = [coerce_reply(r) for r in replies]
        with self._lock:
            q = self._queues.setdefault(model, deque())
            q.extend([reply, reply.repeat] for reply in coerced)
        return self

    def pending(self, model: str | None = None) -> int:
        """Count replies still queued (counting repeats).

        Args:
            model: One model's queue; None counts every queue.

        Returns:
            How many more requests would get a scripted reply.
        """
        with self._lock:
            if model is None:
                queues = list(self._queues.values())
            else:
                queues = [self._queues.get(model, deque())]
            return sum(left for q in queues for _, left in q)

    def clear(self) -> None:
        """Drop every queued reply and every recorded request."""
        with self._lock:
            self._queues = {None: deque()}
            self._records.clear()

    def _next_reply(self, model: str | None) -> Reply | None:
        with self._lock:
            for key in (model, None):
                q = self._queues.get(key)
                if q:
                    entry = q[0]
                    entry[1] -= 1
                    if entry[1] <= 0:
                        q.popleft()
                    return entry[0]
        return None

    # ------------------------------------------------------------- requests

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Chat-completion requests received so far, oldest first (copies).

        Each record has: ``model``, ``messages``, ``tools``, ``tool_choice``,
        ``stream``, ``stream_options``, ``body`` (the whole JSON body),
        ``received_at`` (epoch seconds), ``headers`` (lower-cased, without
        credential values), ``auth`` (``{"present": bool, "last4": str|None}``),
        ``served`` (``"scripted"``, ``"unscripted"``, ``"demo"`` or
        ``"invalid"``) and ``outcome`` (``"pending"``, ``"completed"``,
        ``"error"``, ``"client_disconnected"``, ``"dropped"`` (the script
        cut the connection: ``disconnect_after`` or a hang past its limit),
        ``"server_stopped"``).
        """
        with self._lock:
            return copy.deepcopy(self._records)

    @property
    def last_request(self) -> dict[str, Any]:
        """The most recent request record.

        Raises:
            LookupError: When nothing was received yet.
        """
        records = self.requests
        if not records:
            raise LookupError("the scripted LLM has received no request")
        return records[-1]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` requests were received.

        Useful when the app runs in another thread or process.

        Args:
            count: Number of requests to wait for.
            timeout: Seconds to wait at most.

        Returns:
            The request records (copies).

        Raises:
            TimeoutError: When fewer arrived in time.
        """
        with self._new_record:
            ok = self._new_record.wait_for(lambda: len(self._records) >= count, timeout)
            if not ok:
                raise TimeoutError(
                    f"expected {count} LLM request(s), got {len(self._records)} in {timeout}s"
                )
            return copy.deepcopy(self._records)

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Block until ``predicate(records)`` holds; records update as replies end.

        Args:
            predicate: Called with a copy of the records after each change.
            timeout: Seconds to wait at most.

        Returns:
            The records that satisfied the predicate.

        Raises:
            TimeoutError: When the predicate did not hold in time.
        """
        deadline = time.monotonic() + timeout
        with self._new_record:
            while True:
                records = copy.deepcopy(self._records)
                if predicate(records):
                    return records
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("scripted LLM records did not reach the expected state")
                self._new_record.wait(remaining)

    def _record(self, record: dict[str, Any]) -> None:
        with self._new_record:
            self._records.append(record)
            self._new_record.notify_all()

    def _set_outcome(self, record: dict[str, Any], outcome: str) -> None:
        with self._new_record:
            record["outcome"] = outcome
            self._new_record.notify_all()


# --------------------------------------------------------------------- HTTP


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that can close its live connections on stop."""

    daemon_threads = True
    # The OpenAI SDK keeps pooled keep-alive connections open; waiting for
    # their threads on close would block stop() for ever.
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], llm: ScriptedLLM
    ) -> None:
        self.llm = llm
        self.stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._conns_lock:
            if alive:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def close_all_connections(self) -> None:
        # shutdown() wakes handler threads blocked reading an idle keep-alive
        # connection, so they end instead of lingering until the client leaves.
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client vanishing mid-reply is normal here (Stop button, timeouts);
        # anything else is a bug in the fake and should be seen.
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """One connection: routes, recording and the OpenAI wire format."""

    protocol_version = "HTTP/1.1"
    server_version = "scripted-llm/1.0"
    server: _HTTPServer

    # ------------------------------------------------------------ plumbing

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, alive=True)

    def finish(self) -> None:
        self.server.track(self.connection, alive=False)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet by default: test output should show the app's logs, not ours.
        if self.server.llm.verbose:
            super().log_message(format, *args)

    @property
    def llm(self) -> ScriptedLLM:
        return self.server.llm

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailer section ends with an empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error_json(self, error: ScriptedError, headers: dict[str, str] | None = None) -> None:
        self._send_json(error.status, error.body(), headers)

    def _client_gone(self, wait: float) -> bool:
        """Wait up to ``wait`` s; True when the client closed or the server stops."""
        if self.server.stopping.is_set():
            return True
        try:
            readable, _, _ = select.select([self.connection], [], [], wait)
        except (OSError, ValueError):
            return True
        if not readable:
            return False
        try:
            # Readable with no data means the peer closed its end.
            if self.connection.recv(1, socket.MSG_PEEK) == b"":
                return True
        except BlockingIOError:
            return False
        except OSError:
            return True
        # The client sent more bytes (pipelining): select() would return at
        # once from now on, so wait here instead of spinning.
        time.sleep(wait)
        return False

    def _sleep(self, seconds: float) -> None:
        """Sleep, but give up as soon as the client leaves or the server stops."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if self._client_gone(min(remaining, _POLL_S)):
                raise _ClientGone

    # -------------------------------------------------------------- routes

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in ("/v1/models", "/models"):
            created = int(time.time())
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": m, "object": "model", "created": created, "owned_by": "scripted-llm"}
                        for m in (DEFAULT_MODEL, "scripted-demo")
                    ],
                },
            )
        elif path == "/_script/requests":
            self._send_json(200, {"requests": self.llm.requests})
        elif path in ("/_script/health", "/health"):
            self._send_json(200, {"ok": True, "pending": self.llm.pending()})
        else:
            self._not_found()

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        body = self._read_body()
        if path in ("/v1/chat/completions", "/chat/completions"):
            self._chat_completions(body)
        elif path == "/_script/queue":
            self._script_queue(body)
        elif path == "/_script/clear":
            self.llm.clear()
            self._send_json(200, {"cleared": True})
        else:
            self._not_found()

    def _not_found(self) -> None:
        self._send_error_json(
            ScriptedError(404, f"Unknown path {self.path} on the scripted LLM.", code="not_found")
        )

    def _script_queue(self, raw: bytes) -> None:
        try:
            data = json.loads(raw or b"{}")
            if isinstance(data, list):
                data = {"replies": data}
            if not isinstance(data, dict) or not isinstance(data.get("replies"), list):
                raise ValueError('expected {"replies": [...], "model": optional}')
            unknown = set(data) - {"replies", "model"}
            if unknown:
                raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")
            self.llm.queue(*data["replies"], model=data.get("model"))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError too
            self._send_error_json(ScriptedError(400, f"Bad script: {exc}"))
            return
        self._send_json(200, {"queued": len(data["replies"]), "pending": self.llm.pending()})

    # ------------------------------------------------------------ chat API

    def _chat_completions(self, raw: bytes) -> None:
        headers: dict[str, str] = {}
        auth: dict[str, Any] = {"present": False, "last4": None}
        for name, value in self.headers.items():
            lname = name.lower()
            if lname in _SECRET_HEADERS:
                # Never keep the key itself: only that one came, and its tail.
                token = value.split()[-1] if value.split() else ""
                auth = {"present": True, "last4": token[-4:] or None}
                continue
            headers[lname] = value
        record: dict[str, Any] = {
            "path": self.path,
            "received_at": time.time(),
            "headers": headers,
            "auth": auth,
            "outcome": "pending",
        }
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("body is not a JSON object")
        except ValueError as exc:
            record.update(body=None, model=None, messages=None, tools=None, served="invalid")
            self.llm._record(record)
            self._send_error_json(ScriptedError(400, f"Could not parse the JSON body: {exc}"))
            self.llm._set_outcome(record, "error")
            return

        model = body.get("model") or DEFAULT_MODEL
        record.update(
            body=body,
            model=model,
            messages=body.get("messages"),
            tools=body.get("tools"),
            tool_choice=body.get("tool_choice"),
            stream=bool(body.get("stream")),
            stream_options=body.get("stream_options"),
        )
        reply = self.llm._next_reply(model)
        if reply is None and self.llm.responder is not None:
            messages = body.get("messages")
            reply = self.llm.responder(messages if isinstance(messages, list) else [])
            record["served"] = "responder"
        elif reply is None:
            record["served"] = "demo" if self.llm.demo else "unscripted"
            reply = Reply(content=DEMO_TEXT if self.llm.demo else UNSCRIPTED_TEXT)
        else:
            record["served"] = "scripted"
        self.llm._record(record)

        try:
            outcome = self._answer(body, model, reply)
        except OSError:  # _ClientGone, ConnectionError, TimeoutError and kin
            # The client cancelled (Stop button, asyncio cancel, timeout) or the
            # server is stopping: expected, so drop this connection and go on.
            self.close_connection = True
            stopping = self.server.stopping.is_set()
            outcome = "server_stopped" if stopping else "client_disconnected"
        self.llm._set_outcome(record, outcome)

    def _answer(self, body: dict[str, Any], model: str, reply: Reply) -> str:
        if reply.hang:
            self._sleep(_HANG_LIMIT_S)
            self.close_connection = True
            return "dropped"
        if reply.delay_before:
            self._sleep(reply.delay_before)
        if reply.error is not None:
            self._send_error_json(ScriptedError.coerce(reply.error), reply.headers)
            return "error"
        completion_id = new_id("chatcmpl-")
        created = int(time.time())
        usage = _usage(body, reply)
        finish_reason = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        # Fresh ids per answer unless the script pinned one, like OpenAI.
        call_ids = [tc.id or new_id("call_") for tc in reply.tool_calls]
        if body.get("stream"):
            return self._stream(
                body, model, reply, completion_id, created, usage, finish_reason, call_ids
            )
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.content,
            "refusal": None,
            "annotations": [],
        }
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call_ids[i],
                    "type": "function",
                    "function": {"name": tc.name, "arguments": tc.arguments_json},
                }
                for i, tc in enumerate(reply.tool_calls)
            ]
        self._send_json(
            200,
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": None,
            },
            reply.headers,
        )
        return "completed"

    def _stream(
        self,
        body: dict[str, Any],
        model: str,
        reply: Reply,
        completion_id: str,
        created: int,
        usage: dict[str, int],
        finish_reason: str,
        call_ids: list[str],
    ) -> str:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            data: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": None,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if include_usage:
                # OpenAI puts "usage": null on every chunk when usage is asked for.
                data["usage"] = None
            return data

        def events() -> Iterator[dict[str, Any]]:
            yield chunk({"role": "assistant", "content": "", "refusal": None})
            for piece in _split_words(reply.content or ""):
                yield chunk({"content": piece})
            for index, tc in enumerate(reply.tool_calls):
                yield chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": call_ids[index],
                                "type": "function",
                                "function": {"name": tc.name, "arguments": ""},
                            }
                        ]
                    }
                )
                for part in _split_arguments(tc.arguments_json):
                    yield chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
            yield chunk({}, finish_reason)
            if include_usage:
                final = chunk({})
                final["choices"] = []
                final["usage"] = usage
                yield final

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()

        for sent, event in enumerate(events()):
            if reply.disconnect_after is not None and sent >= reply.disconnect_after:
                # Simulate the network dropping: no [DONE], no final chunk.
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return "dropped"
            if sent and reply.chunk_delay:
                self._sleep(reply.chunk_delay)
            self._write_chunk(f"data: {json.dumps(event)}\n\n".encode())
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")  # zero-length chunk ends the chunked body
        return "completed"

    def _write_chunk(self, data: bytes) -> None:
        if self.server.stopping.is_set():
            raise _ClientGone
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


# ------------------------------------------------------------------ helpers

_WORD_RE = re.compile(r"\s*\S+\s*|\s+")


def _split_words(text: str) -> list[str]:
    """Split text into word-sized pieces that join back to exactly the text."""
    return _WORD_RE.findall(text)


def _split_arguments(arguments: str) -> list[str]:
    """Split tool arguments into a few pieces, as OpenAI streams them."""
    if not arguments:
        return []
    size = max(8, math.ceil(len(arguments) / 3))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]


def _tokens(chars: int) -> int:
    """Rough token estimate: ~4 characters per token (good enough for tests)."""
    return max(1, math.ceil(chars / 4))


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, int]:
    """The usage block: the reply's override, else estimates from sizes."""
    if reply.usage is not None:
        prompt = int(reply.usage.get("prompt_tokens", 0))
        completion = int(reply.usage.get("completion_tokens", 0))
        return {
            **reply.usage,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": int(reply.usage.get("total_tokens", prompt + completion)),
        }
    prompt_chars = len(json.dumps(body.get("messages") or [])) + len(
        json.dumps(body.get("tools") or [])
    )
    completion_chars = len(reply.content or "") + sum(
        len(tc.name) + len(tc.arguments_json) for tc in reply.tool_calls
    )
    prompt = _tokens(prompt_chars)
    completion = _tokens(completion_chars)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
