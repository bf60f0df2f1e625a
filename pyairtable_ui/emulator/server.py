"""HTTP front end of the Airtable emulator (stdlib ``ThreadingHTTPServer``, HTTP/1.1 keep-alive).

Request pipeline for ``/v0/...``: route -> failure injection -> token (401) -> base, scope and
permission level (403) -> per-base rate limit (429) -> the state operation. Every such request is
counted (by base, endpoint template and status) and exposed, together with the control endpoints,
under ``/_emulator/`` - a prefix real Airtable never uses, so it cannot shadow a real route.

Control endpoints (no auth, never counted)::

    GET    /_emulator/health          {"ok": true}
    GET    /_emulator/stats           totals, by_base, by_endpoint, by_status, last 20,000 requests
    POST   /_emulator/stats/reset
    POST   /_emulator/reset           back to the seed (or to {"seed": {...}} when given)
    GET    /_emulator/seed            current data exported as a seed
    GET    /_emulator/fail            active failure injections
    POST   /_emulator/fail            {"method", "path_contains", "after", "count", "status",
                                       "body", "delay", "headers"} -> let ``after`` matching
                                       requests through, then fail the next ``count``
    DELETE /_emulator/fail            clear injections
    GET    /_emulator/rate-limit      {"rate_limit": N, "penalty_seconds": S}
    POST   /_emulator/rate-limit      change them at runtime
"""

from __future__ import annotations

import collections
import itertools
import json
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from . import errors
from .errors import ApiError
from .ids import is_id
from .state import (
    MAX_RECORDS_PER_REQUEST,
    SCOPE_COMMENTS_READ,
    SCOPE_COMMENTS_WRITE,
    SCOPE_EMAIL,
    SCOPE_RECORDS_READ,
    SCOPE_RECORDS_WRITE,
    SCOPE_SCHEMA_READ,
    SCOPE_SCHEMA_WRITE,
    SCOPE_WEBHOOKS,
    EmulatorState,
    ListQuery,
    Token,
)

MAX_LOGGED_REQUESTS = 20_000
CONTROL_PREFIX = "/_emulator"


# --- routing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One API endpoint: method, path template, handler name and required access."""

    method: str
    template: str
    handler: str
    scope: str | None = None
    permission: str | None = None

    @property
    def key(self) -> str:
        """Endpoint name used in stats, e.g. ``GET /v0/{baseId}/{tableIdOrName}``."""
        return f"{self.method} {self.template}"

    @property
    def segments(self) -> list[str]:
        """Template split into path segments."""
        return self.template.strip("/").split("/")


_RECORDS = "/v0/{baseId}/{tableIdOrName}"
_RECORD = _RECORDS + "/{recordId}"
_COMMENTS = _RECORD + "/comments"
_META_TABLES = "/v0/meta/bases/{baseId}/tables"
_WEBHOOKS = "/v0/bases/{baseId}/webhooks"
_WEBHOOK = _WEBHOOKS + "/{webhookId}"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/v0/meta/whoami", "whoami"),
    Route("GET", "/v0/meta/bases", "list_bases", SCOPE_SCHEMA_READ),
    Route("GET", _META_TABLES, "base_schema", SCOPE_SCHEMA_READ, "read"),
    Route("POST", _META_TABLES, "create_table", SCOPE_SCHEMA_WRITE, "create"),
    Route("PATCH", _META_TABLES + "/{tableIdOrName}", "update_table", SCOPE_SCHEMA_WRITE, "create"),
    Route(
        "POST",
        _META_TABLES + "/{tableIdOrName}/fields",
        "create_field",
        SCOPE_SCHEMA_WRITE,
        "create",
    ),
    Route(
        "PATCH",
        _META_TABLES + "/{tableIdOrName}/fields/{fieldIdOrName}",
        "update_field",
        SCOPE_SCHEMA_WRITE,
        "create",
    ),
    Route("GET", _WEBHOOKS, "list_webhooks", SCOPE_WEBHOOKS, "create"),
    Route("POST", _WEBHOOKS, "create_webhook", SCOPE_WEBHOOKS, "create"),
    Route("DELETE", _WEBHOOK, "delete_webhook", SCOPE_WEBHOOKS, "create"),
    Route("POST", _WEBHOOK + "/enableNotifications", "enable_webhook", SCOPE_WEBHOOKS, "create"),
    Route("POST", _WEBHOOK + "/refresh", "refresh_webhook", SCOPE_WEBHOOKS, "create"),
    Route("GET", _WEBHOOK + "/payloads", "webhook_payloads", SCOPE_WEBHOOKS, "create"),
    Route("GET", _RECORDS, "list_records", SCOPE_RECORDS_READ, "read"),
    Route("POST", _RECORDS + "/listRecords", "list_records_post", SCOPE_RECORDS_READ, "read"),
    Route("POST", _RECORDS, "create_records", SCOPE_RECORDS_WRITE, "edit"),
    Route("PATCH", _RECORDS, "update_records", SCOPE_RECORDS_WRITE, "edit"),
    Route("PUT", _RECORDS, "replace_records", SCOPE_RECORDS_WRITE, "edit"),
    Route("DELETE", _RECORDS, "delete_records", SCOPE_RECORDS_WRITE, "edit"),
    Route("GET", _RECORD, "get_record", SCOPE_RECORDS_READ, "read"),
    Route("PATCH", _RECORD, "update_record", SCOPE_RECORDS_WRITE, "edit"),
    Route("PUT", _RECORD, "replace_record", SCOPE_RECORDS_WRITE, "edit"),
    Route("DELETE", _RECORD, "delete_record", SCOPE_RECORDS_WRITE, "edit"),
    Route("GET", _COMMENTS, "list_comments", SCOPE_COMMENTS_READ, "read"),
    Route("POST", _COMMENTS, "create_comment", SCOPE_COMMENTS_WRITE, "comment"),
    Route(
        "PATCH", _COMMENTS + "/{rowCommentId}", "update_comment", SCOPE_COMMENTS_WRITE, "comment"
    ),
    Route(
        "DELETE", _COMMENTS + "/{rowCommentId}", "delete_comment", SCOPE_COMMENTS_WRITE, "comment"
    ),
)


def match_route(method: str, raw_path: str) -> tuple[Route | None, dict[str, str]]:
    """Find the route for a request path (segments are percent-decoded individually).

    Table names may contain ``/``; pyairtable sends them as ``%2F``, so the path is split on raw
    slashes first and each segment decoded afterwards.
    """
    parts = (
        [unquote(part) for part in raw_path.strip("/").split("/")] if raw_path.strip("/") else []
    )
    for route in ROUTES:
        template = route.segments
        if route.method != method or len(template) != len(parts):
            continue
        params: dict[str, str] = {}
        for expected, actual in zip(template, parts, strict=True):
            if expected.startswith("{"):
                params[expected[1:-1]] = actual
            elif expected != actual:
                break
        else:
            # "meta" and "bases" are not base ids; real base ids start with "app".
            if "baseId" in params and not params["baseId"].startswith("app"):
                continue
            return route, params
    return None, {}


_BASE_IN_PATH = re.compile(r"/(app[A-Za-z0-9]{14})(?:/|$)")


def base_in_path(raw_path: str) -> str | None:
    """Best-effort base id of an unmatched path, for per-base stats."""
    found = _BASE_IN_PATH.search(raw_path)
    return found.group(1) if found else None


# --- rate limiting, stats and failure injection -----------------------------------------------


class RateLimiter:
    """Per-base sliding one-second window; exceeding it blocks the base for a penalty period."""

    def __init__(self, limit: int, penalty_seconds: float) -> None:
        """Create a limiter.

        Args:
            limit: Requests per second per base; 0 disables limiting.
            penalty_seconds: How long a base answers 429 after exceeding the limit.
        """
        self.limit = limit
        self.penalty_seconds = penalty_seconds
        self._lock = threading.Lock()
        self._windows: dict[str, collections.deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def allow(self, key: str) -> bool:
        """Count a request for ``key``; ``False`` means answer 429."""
        if self.limit <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            if now < self._blocked_until.get(key, 0.0):
                return False
            window = self._windows.setdefault(key, collections.deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= self.limit:
                self._blocked_until[key] = now + self.penalty_seconds
                # After the penalty the base starts with a fresh budget, so short test penalties
                # (0.2 s) behave like Airtable's 30 s one instead of waiting for the window.
                window.clear()
                return False
            window.append(now)
            return True

    def reset(self) -> None:
        """Forget all windows and penalties."""
        with self._lock:
            self._windows.clear()
            self._blocked_until.clear()


class Stats:
    """Counts of real API requests (control endpoints are never counted)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter and drop the request log."""
        with self._lock:
            self.total = 0
            self.by_base: collections.Counter[str] = collections.Counter()
            self.by_endpoint: collections.Counter[str] = collections.Counter()
            self.by_status: collections.Counter[str] = collections.Counter()
            self.requests: collections.deque[dict[str, Any]] = collections.deque(
                maxlen=MAX_LOGGED_REQUESTS
            )

    def record(
        self,
        method: str,
        path: str,
        query: str,
        base: str | None,
        endpoint: str,
        status: int,
        duration_ms: float,
    ) -> None:
        """Log one request."""
        with self._lock:
            self.total += 1
            if base:
                self.by_base[base] += 1
            self.by_endpoint[endpoint] += 1
            self.by_status[str(status)] += 1
            self.requests.append(
                {
                    "t": time.time(),
                    "method": method,
                    "path": path,
                    "query": query,
                    "base": base,
                    "endpoint": endpoint,
                    "status": status,
                    "duration_ms": round(duration_ms, 3),
                }
            )

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of the counters."""
        with self._lock:
            return {
                "total": self.total,
                "by_base": dict(self.by_base),
                "by_endpoint": dict(self.by_endpoint),
                "by_status": dict(self.by_status),
                "requests": [dict(r) for r in self.requests],
            }


_DEFAULT_FAILURE_BODIES: dict[int, dict[str, Any]] = {
    401: errors.authentication_required().body,
    403: errors.forbidden().body,
    404: errors.not_found().body,
    422: errors.invalid_request().body,
    429: errors.rate_limited().body,
    500: {"error": {"type": "SERVER_ERROR", "message": "Server error (injected by the emulator)"}},
    502: {"error": {"type": "BAD_GATEWAY", "message": "Bad gateway (injected by the emulator)"}},
    503: {
        "error": {
            "type": "SERVICE_UNAVAILABLE",
            "message": "Service unavailable (injected by the emulator)",
        }
    },
}


@dataclass
class Injection:
    """Fail (or delay) requests whose method and path match, after letting ``after`` through."""

    id: int
    method: str | None
    path_contains: str | None
    after: int
    count: int | None
    status: int | None
    body: Any
    delay: float
    headers: dict[str, str]
    seen: int = 0
    fired: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "method": self.method,
            "path_contains": self.path_contains,
            "after": self.after,
            "count": self.count,
            "status": self.status,
            "body": self.body,
            "delay": self.delay,
            "headers": dict(self.headers),
            "seen": self.seen,
            "fired": self.fired,
        }


class Failures:
    """Registry of failure injections."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Injection] = []
        self._ids = itertools.count(1)

    def add(
        self,
        *,
        method: str | None = None,
        path_contains: str | None = None,
        after: int = 0,
        count: int | None = 1,
        status: int | None = 500,
        body: Any = None,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> Injection:
        """Register an injection (``count=None`` fails forever; ``status=None`` only delays)."""
        if after < 0 or (count is not None and count < 1):
            raise ValueError("after must be >= 0 and count >= 1 (or None for unlimited)")
        if status is not None and not 100 <= int(status) <= 599:
            raise ValueError("status must be an HTTP status code")
        if delay < 0:
            raise ValueError("delay must be >= 0")
        if headers is not None and not (
            isinstance(headers, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
        ):
            raise ValueError("headers must map strings to strings")
        with self._lock:
            injection = Injection(
                next(self._ids),
                method.upper() if method else None,
                path_contains or None,
                int(after),
                None if count is None else int(count),
                None if status is None else int(status),
                body,
                float(delay),
                dict(headers or {}),
            )
            self._items.append(injection)
            return injection

    def clear(self) -> None:
        """Remove all injections."""
        with self._lock:
            self._items.clear()

    def list(self) -> list[dict[str, Any]]:
        """JSON form of all injections."""
        with self._lock:
            return [item.as_dict() for item in self._items]

    def check(self, method: str, target: str) -> Injection | None:
        """Count the request against matching injections; return the one that fires, if any."""
        decoded = unquote(target)
        with self._lock:
            for item in self._items:
                if item.method and item.method != method:
                    continue
                if item.path_contains and not (
                    item.path_contains in target or item.path_contains in decoded
                ):
                    continue
                item.seen += 1
                if item.seen <= item.after:
                    continue
                if item.count is None or item.fired < item.count:
                    item.fired += 1
                    return item
        return None


# --- request parsing helpers ------------------------------------------------------------------


def _bool_param(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("1", "true"):
        return True
    if isinstance(value, str) and value.lower() in ("0", "false", ""):
        return False
    raise errors.invalid_request(f"Invalid request: {name} must be a boolean")


def _int_param(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise errors.invalid_request(f"Invalid request: {name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise errors.invalid_request(f"Invalid request: {name} must be an integer")


def _str_param(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise errors.invalid_request(f"Invalid request: {name} must be a string")
    return value


def _last(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


_SORT_KEY = re.compile(r"sort\[(\d+)\]\[(field|direction)\]")


def query_from_params(params: dict[str, list[str]]) -> ListQuery:
    """Build a :class:`ListQuery` from GET parameters (``fields[]``, ``sort[0][field]``...)."""
    query = ListQuery()

    fields = params.get("fields[]", []) + params.get("fields", [])
    if fields:
        query.fields = fields
    sort: dict[int, dict[str, str]] = {}
    for key, values in params.items():
        found = _SORT_KEY.fullmatch(key)
        if found:
            sort.setdefault(int(found.group(1)), {})[found.group(2)] = values[-1]
    for index in sorted(sort):
        if "field" not in sort[index]:
            raise errors.invalid_request("Invalid request: every sort entry needs a field")
        query.sort.append((sort[index]["field"], sort[index].get("direction", "asc")))
    if (value := _last(params, "pageSize")) is not None:
        query.page_size = _int_param("pageSize", value)
    if (value := _last(params, "maxRecords")) is not None:
        query.max_records = _int_param("maxRecords", value)
    query.offset = _last(params, "offset") or None
    query.formula = _last(params, "filterByFormula")
    query.view = _last(params, "view") or None
    query.cell_format = _last(params, "cellFormat") or "json"
    query.time_zone = _last(params, "timeZone")
    query.user_locale = _last(params, "userLocale")
    if (value := _last(params, "returnFieldsByFieldId")) is not None:
        query.by_field_id = _bool_param("returnFieldsByFieldId", value)
    metadata = params.get("recordMetadata[]", []) + params.get("recordMetadata", [])
    query.comment_count = "commentCount" in metadata
    return query


def query_from_body(body: Any, params: dict[str, list[str]]) -> ListQuery:
    """Build a :class:`ListQuery` from a ``listRecords`` POST body (timeZone/userLocale via URL)."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise errors.invalid_request("Invalid request: the body must be a JSON object")
    query = ListQuery()
    if "fields" in body:
        fields = body["fields"]
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise errors.invalid_request("Invalid request: fields must be an array of strings")
        query.fields = fields
    if "sort" in body:
        sort = body["sort"]
        if not isinstance(sort, list) or not all(
            isinstance(s, dict) and isinstance(s.get("field"), str) for s in sort
        ):
            raise errors.invalid_request("Invalid request: sort must be [{field, direction}]")
        query.sort = [(s["field"], s.get("direction", "asc")) for s in sort]
    if body.get("pageSize") is not None:
        query.page_size = _int_param("pageSize", body["pageSize"])
    if body.get("maxRecords") is not None:
        query.max_records = _int_param("maxRecords", body["maxRecords"])
    if body.get("offset"):
        query.offset = _str_param("offset", body["offset"])
    if body.get("filterByFormula") is not None:
        query.formula = _str_param("filterByFormula", body["filterByFormula"])
    if body.get("view"):
        query.view = _str_param("view", body["view"])
    if body.get("cellFormat"):
        query.cell_format = _str_param("cellFormat", body["cellFormat"])
    if "returnFieldsByFieldId" in body:
        query.by_field_id = _bool_param("returnFieldsByFieldId", body["returnFieldsByFieldId"])
    metadata = body.get("recordMetadata") or []
    query.comment_count = isinstance(metadata, list) and "commentCount" in metadata
    query.time_zone = body.get("timeZone") or _last(params, "timeZone")
    query.user_locale = body.get("userLocale") or _last(params, "userLocale")
    return query


_WRITE_KEYS = frozenset({"records", "fields", "typecast", "returnFieldsByFieldId", "performUpsert"})


def _write_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.invalid_request("Invalid request: the body must be a JSON object")
    unknown = set(body) - _WRITE_KEYS
    if unknown:
        raise errors.invalid_request(
            f"Invalid request: unknown parameter(s) {', '.join(sorted(unknown))}"
        )
    return body


def _records_list(body: dict[str, Any]) -> list[Any]:
    records = body.get("records")
    if not isinstance(records, list) or not records:
        raise ApiError(
            422, "INVALID_RECORDS", 'Invalid request: "records" must be a non-empty array'
        )
    if len(records) > MAX_RECORDS_PER_REQUEST:
        raise ApiError(
            422,
            "INVALID_RECORDS",
            f"Invalid request: at most {MAX_RECORDS_PER_REQUEST} records per request "
            f"(got {len(records)})",
        )
    if not all(isinstance(r, dict) for r in records):
        raise ApiError(422, "INVALID_RECORDS", "Invalid request: every record must be an object")
    return records


@dataclass
class Call:
    """A routed, authenticated API call handed to a handler."""

    token: Token
    params: dict[str, str]
    query: dict[str, list[str]]
    body: Any


# --- the emulator -----------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Bursts of parallel connections (rate-limit tests, benchmarks) must not be refused.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: AirtableEmulator) -> None:
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AirtableEmulator/1.0"
    # Idle keep-alive connections are dropped after this many seconds.
    timeout = 120
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.emulator.verbose:
            sys.stderr.write(f"[airtable-emulator] {format % args}\n")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_OPTIONS(self) -> None:
        self._read_body()
        self._send(
            204,
            b"",
            {
                "Access-Control-Allow-Methods": "DELETE,GET,OPTIONS,PATCH,POST,PUT",
                "Access-Control-Allow-Headers": "authorization,content-type,x-airtable-user-agent",
            },
        )

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if status != 204:
            self.wfile.write(body)

    def _handle(self, method: str) -> None:
        started = time.perf_counter()
        emulator = self.server.emulator
        parsed = urlsplit(self.path)
        body_bytes = self._read_body()
        if parsed.path == CONTROL_PREFIX or parsed.path.startswith(CONTROL_PREFIX + "/"):
            status, payload = emulator.control(method, parsed.path, body_bytes)
            self._send(status, _encode(payload))
            return
        route, params = match_route(method, parsed.path)
        status, payload, extra_headers = emulator.dispatch(
            method, route, params, parsed.query, self.path, body_bytes, self.headers
        )
        body = b"" if payload is None else _encode(payload)
        # Counted before the response leaves, so a client that has its answer sees the count.
        emulator.record_request(
            method,
            parsed.path,
            parsed.query,
            params.get("baseId") or base_in_path(parsed.path),
            route.key if route else f"{method} <unknown>",
            status,
            (time.perf_counter() - started) * 1000,
        )
        self._send(status, body, extra_headers)


def _encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class AirtableEmulator:
    """A local HTTP server that behaves like the Airtable Web API.

    Usage::

        with AirtableEmulator(build_seed(), rate_limit=0) as emulator:
            api = pyairtable.Api(TOKEN_FULL, endpoint_url=emulator.url)
            api.table(BASE_CRM_ID, "Contacts").all()
            assert emulator.stats()["by_endpoint"]["GET /v0/{baseId}/{tableIdOrName}"] == 1
    """

    def __init__(
        self,
        seed: dict[str, Any] | str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int = 5,
        penalty_seconds: float = 30.0,
        verbose: bool = False,
    ) -> None:
        """Create (but do not start) an emulator.

        Args:
            seed: Seed dict or path of a JSON seed file (see ``load_seed``).
            host: Interface to bind.
            port: Port to bind; 0 picks a free one (read it back from :attr:`url`).
            rate_limit: Requests per second per base; 0 turns limiting off.
            penalty_seconds: How long a base answers 429 after exceeding the limit.
            verbose: Log every request to stderr.
        """
        self.state = EmulatorState(seed)
        self.host = host
        self.port = port
        self.verbose = verbose
        self.limiter = RateLimiter(rate_limit, penalty_seconds)
        self._stats = Stats()
        self._failures = Failures()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a background thread; returns ``self``."""
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # stop() waits up to one poll interval; tests start hundreds of emulators.
            kwargs={"poll_interval": 0.01},
            name=f"airtable-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with server.connections_lock:
            connections = list(server.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL to pass as pyairtable's ``endpoint_url``, e.g. ``http://127.0.0.1:54321``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # --- test controls ----------------------------------------------------------------------------

    def reset(self, seed: dict[str, Any] | str | Path | None = None) -> None:
        """Back to the seed (or a new one): data, stats, failure injections and rate windows."""
        self.state.load(seed)
        self.limiter.reset()
        self._failures.clear()
        self._stats.reset()

    def stats(self) -> dict[str, Any]:
        """Request counts: ``total``, ``by_base``, ``by_endpoint``, ``by_status``, ``requests``."""
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        """Zero the request counters."""
        self._stats.reset()

    def inject_failure(
        self,
        *,
        method: str | None = None,
        path_contains: str | None = None,
        after: int = 0,
        count: int | None = 1,
        status: int | None = 500,
        body: Any = None,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Let ``after`` matching requests through, then fail the next ``count`` with ``status``.

        Args:
            method: Only this HTTP method (any when ``None``).
            path_contains: Only requests whose path+query contains this text.
            after: Matching requests to let through first.
            count: Requests to fail; ``None`` fails every later match.
            status: Status to answer; ``None`` only applies ``delay``.
            body: JSON body to answer (Airtable's usual body for the status when ``None``).
            delay: Seconds to wait before answering a fired injection.
            headers: Extra response headers of the failure, e.g. ``{"Retry-After": "2"}``
                (real Airtable sends none on its own 429s).

        Returns:
            The registered injection.
        """
        return self._failures.add(
            method=method,
            path_contains=path_contains,
            after=after,
            count=count,
            status=status,
            body=body,
            delay=delay,
            headers=headers,
        ).as_dict()

    def clear_failures(self) -> None:
        """Remove every failure injection."""
        self._failures.clear()

    def set_rate_limit(
        self, rate_limit: int | None = None, penalty_seconds: float | None = None
    ) -> None:
        """Change the per-base limit and/or penalty; also clears current windows."""
        if rate_limit is not None:
            self.limiter.limit = int(rate_limit)
        if penalty_seconds is not None:
            self.limiter.penalty_seconds = float(penalty_seconds)
        self.limiter.reset()

    # --- request handling -------------------------------------------------------------------------

    def record_request(
        self,
        method: str,
        path: str,
        query: str,
        base: str | None,
        endpoint: str,
        status: int,
        duration_ms: float,
    ) -> None:
        """Count one API request (called by the HTTP handler)."""
        self._stats.record(method, path, query, base, endpoint, status, duration_ms)

    def dispatch(
        self,
        method: str,
        route: Route | None,
        params: dict[str, str],
        query_string: str,
        target: str,
        body_bytes: bytes,
        headers: Any,
    ) -> tuple[int, Any, dict[str, str]]:
        """Run one API request through the pipeline.

        Returns:
            ``(status, JSON body or None, extra response headers)``.
        """
        try:
            if route is None:
                raise errors.not_found()
            injection = self._failures.check(method, target)
            if injection is not None:
                if injection.delay:
                    time.sleep(injection.delay)
                if injection.status is not None:
                    failure_body = injection.body
                    if failure_body is None:
                        failure_body = _DEFAULT_FAILURE_BODIES.get(
                            injection.status,
                            {"error": {"type": "INJECTED_FAILURE", "message": "Injected failure"}},
                        )
                    return injection.status, failure_body, dict(injection.headers)
            authorization = headers.get("Authorization") or ""
            scheme, _, token_text = authorization.partition(" ")
            token = self.state.authenticate(
                token_text.strip() if scheme.lower() == "bearer" else None
            )
            base_id = params.get("baseId")
            self.state.authorize(token, base_id, route.scope, route.permission)
            if base_id and not self.limiter.allow(base_id):
                raise errors.rate_limited()
            body: Any = None
            if body_bytes.strip():
                try:
                    body = json.loads(body_bytes)
                except ValueError as exc:
                    raise errors.invalid_request(
                        f"Invalid request: body is not JSON ({exc})"
                    ) from exc
            call = Call(token, params, parse_qs(query_string, keep_blank_values=True), body)
            handler: Callable[[Call], Any] = getattr(self, "_api_" + route.handler)
            return 200, handler(call), {}
        except ApiError as exc:
            return exc.status, exc.body, {}
        except Exception as exc:  # a bug in the emulator must surface, not hang the client
            traceback.print_exc()
            return 500, {"error": {"type": "EMULATOR_BUG", "message": repr(exc)}}, {}

    # --- API handlers ----------------------------------------------------------------------------

    def _api_whoami(self, call: Call) -> dict[str, Any]:
        result: dict[str, Any] = {"id": call.token.user.id, "scopes": sorted(call.token.scopes)}
        if SCOPE_EMAIL in call.token.scopes:
            result["email"] = call.token.user.email
        return result

    def _api_list_bases(self, call: Call) -> dict[str, Any]:
        return self.state.list_bases(call.token)

    def _api_base_schema(self, call: Call) -> dict[str, Any]:
        include = call.query.get("include", []) + call.query.get("include[]", [])
        return self.state.base_schema(call.params["baseId"], "visibleFieldIds" in include)

    def _api_create_table(self, call: Call) -> dict[str, Any]:
        return self.state.create_table(call.params["baseId"], call.body, call.token.user)

    def _api_update_table(self, call: Call) -> dict[str, Any]:
        return self.state.update_table(
            call.params["baseId"], call.params["tableIdOrName"], call.body, call.token.user
        )

    def _api_create_field(self, call: Call) -> dict[str, Any]:
        return self.state.create_field(
            call.params["baseId"], call.params["tableIdOrName"], call.body, call.token.user
        )

    def _api_update_field(self, call: Call) -> dict[str, Any]:
        return self.state.update_field(
            call.params["baseId"],
            call.params["tableIdOrName"],
            call.params["fieldIdOrName"],
            call.body,
            call.token.user,
        )

    def _api_list_records(self, call: Call) -> dict[str, Any]:
        return self.state.list_records(
            call.params["baseId"], call.params["tableIdOrName"], query_from_params(call.query)
        )

    def _api_list_records_post(self, call: Call) -> dict[str, Any]:
        return self.state.list_records(
            call.params["baseId"],
            call.params["tableIdOrName"],
            query_from_body(call.body, call.query),
        )

    def _record_id(self, call: Call) -> str:
        record_id = call.params["recordId"]
        if not is_id(record_id, "rec"):
            raise errors.not_found()
        return record_id

    def _api_get_record(self, call: Call) -> dict[str, Any]:
        return self.state.get_record(
            call.params["baseId"],
            call.params["tableIdOrName"],
            self._record_id(call),
            query_from_params(call.query),
        )

    def _api_create_records(self, call: Call) -> dict[str, Any]:
        body = _write_body(call.body)
        typecast = _bool_param("typecast", body.get("typecast", False))
        by_id = _bool_param("returnFieldsByFieldId", body.get("returnFieldsByFieldId", False))
        if "records" in body:
            records = _records_list(body)
            created = self.state.create_records(
                call.params["baseId"],
                call.params["tableIdOrName"],
                [r.get("fields") for r in records],
                typecast=typecast,
                user=call.token.user,
                by_field_id=by_id,
            )
            return {"records": created}
        if "fields" not in body:
            raise errors.invalid_request('Could not find field "fields" in the request body')
        return self.state.create_records(
            call.params["baseId"],
            call.params["tableIdOrName"],
            [body["fields"]],
            typecast=typecast,
            user=call.token.user,
            by_field_id=by_id,
        )[0]

    def _update_many(self, call: Call, replace: bool) -> dict[str, Any]:
        body = _write_body(call.body)
        records = _records_list(body)
        merge_on = None
        if "performUpsert" in body:
            upsert = body["performUpsert"]
            if not isinstance(upsert, dict) or not isinstance(upsert.get("fieldsToMergeOn"), list):
                raise errors.invalid_request(
                    "Invalid request: performUpsert needs fieldsToMergeOn (an array of fields)"
                )
            merge_on = upsert["fieldsToMergeOn"]
        return self.state.update_records(
            call.params["baseId"],
            call.params["tableIdOrName"],
            records,
            replace=replace,
            typecast=_bool_param("typecast", body.get("typecast", False)),
            merge_on=merge_on,
            user=call.token.user,
            by_field_id=_bool_param(
                "returnFieldsByFieldId", body.get("returnFieldsByFieldId", False)
            ),
        )

    def _api_update_records(self, call: Call) -> dict[str, Any]:
        return self._update_many(call, replace=False)

    def _api_replace_records(self, call: Call) -> dict[str, Any]:
        return self._update_many(call, replace=True)

    def _update_one(self, call: Call, replace: bool) -> dict[str, Any]:
        record_id = self._record_id(call)
        body = _write_body(call.body)
        if "fields" not in body:
            raise errors.invalid_request('Could not find field "fields" in the request body')
        return self.state.update_records(
            call.params["baseId"],
            call.params["tableIdOrName"],
            [{"id": record_id, "fields": body["fields"]}],
            replace=replace,
            typecast=_bool_param("typecast", body.get("typecast", False)),
            user=call.token.user,
            by_field_id=_bool_param(
                "returnFieldsByFieldId", body.get("returnFieldsByFieldId", False)
            ),
        )["records"][0]

    def _api_update_record(self, call: Call) -> dict[str, Any]:
        return self._update_one(call, replace=False)

    def _api_replace_record(self, call: Call) -> dict[str, Any]:
        return self._update_one(call, replace=True)

    def _api_delete_records(self, call: Call) -> dict[str, Any]:
        ids = call.query.get("records[]", []) + call.query.get("records", [])
        if not ids:
            raise ApiError(422, "INVALID_RECORDS", "Invalid request: records[] is required")
        if len(ids) > MAX_RECORDS_PER_REQUEST:
            raise ApiError(
                422,
                "INVALID_RECORDS",
                f"Invalid request: at most {MAX_RECORDS_PER_REQUEST} records per request "
                f"(got {len(ids)})",
            )
        return {
            "records": self.state.delete_records(
                call.params["baseId"], call.params["tableIdOrName"], ids, user=call.token.user
            )
        }

    def _api_delete_record(self, call: Call) -> dict[str, Any]:
        return self.state.delete_records(
            call.params["baseId"],
            call.params["tableIdOrName"],
            [self._record_id(call)],
            user=call.token.user,
        )[0]

    def _api_list_comments(self, call: Call) -> dict[str, Any]:
        size = call.query.get("pageSize")
        return self.state.list_comments(
            call.params["baseId"],
            call.params["tableIdOrName"],
            self._record_id(call),
            _int_param("pageSize", size[-1]) if size else None,
            _last(call.query, "offset"),
        )

    def _api_create_comment(self, call: Call) -> dict[str, Any]:
        body = call.body if isinstance(call.body, dict) else {}
        return self.state.create_comment(
            call.params["baseId"],
            call.params["tableIdOrName"],
            self._record_id(call),
            body.get("text"),
            body.get("parentCommentId"),
            call.token.user,
        )

    def _api_update_comment(self, call: Call) -> dict[str, Any]:
        body = call.body if isinstance(call.body, dict) else {}
        return self.state.update_comment(
            call.params["baseId"],
            call.params["tableIdOrName"],
            self._record_id(call),
            call.params["rowCommentId"],
            body.get("text"),
            call.token.user,
        )

    def _api_delete_comment(self, call: Call) -> dict[str, Any]:
        return self.state.delete_comment(
            call.params["baseId"],
            call.params["tableIdOrName"],
            self._record_id(call),
            call.params["rowCommentId"],
            call.token.user,
        )

    def _api_list_webhooks(self, call: Call) -> dict[str, Any]:
        return self.state.list_webhooks(call.params["baseId"])

    def _api_create_webhook(self, call: Call) -> dict[str, Any]:
        return self.state.create_webhook(call.params["baseId"], call.body)

    def _api_delete_webhook(self, call: Call) -> None:
        self.state.delete_webhook(call.params["baseId"], call.params["webhookId"])

    def _api_enable_webhook(self, call: Call) -> None:
        self.state.enable_webhook_notifications(
            call.params["baseId"], call.params["webhookId"], call.body
        )

    def _api_refresh_webhook(self, call: Call) -> dict[str, Any]:
        return self.state.refresh_webhook(call.params["baseId"], call.params["webhookId"])

    def _api_webhook_payloads(self, call: Call) -> dict[str, Any]:
        cursor = call.query.get("cursor")
        limit = call.query.get("limit")
        return self.state.webhook_payloads(
            call.params["baseId"],
            call.params["webhookId"],
            _int_param("cursor", cursor[-1]) if cursor else None,
            _int_param("limit", limit[-1]) if limit else None,
        )

    # --- control endpoints ------------------------------------------------------------------------

    def control(self, method: str, path: str, body_bytes: bytes) -> tuple[int, Any]:
        """Serve ``/_emulator/...`` (no auth, not counted)."""
        try:
            body = json.loads(body_bytes) if body_bytes.strip() else None
        except ValueError:
            return 400, {"error": {"type": "INVALID_JSON", "message": "body is not JSON"}}
        action = path[len(CONTROL_PREFIX) :].strip("/")
        try:
            if (method, action) == ("GET", "health"):
                return 200, {"ok": True, "url": self.url}
            if (method, action) == ("GET", "stats"):
                return 200, self.stats()
            if (method, action) == ("POST", "stats/reset"):
                self.reset_stats()
                return 200, {"ok": True}
            if (method, action) == ("POST", "reset"):
                self.reset((body or {}).get("seed") if isinstance(body, dict) else None)
                return 200, {"ok": True}
            if (method, action) == ("GET", "seed"):
                return 200, self.state.to_seed()
            if (method, action) == ("GET", "fail"):
                return 200, {"failures": self._failures.list()}
            if (method, action) == ("POST", "fail"):
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                allowed = {
                    "method",
                    "path_contains",
                    "after",
                    "count",
                    "status",
                    "body",
                    "delay",
                    "headers",
                }
                unknown = set(body) - allowed
                if unknown:
                    raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
                return 200, self.inject_failure(**body)
            if (method, action) == ("DELETE", "fail"):
                self.clear_failures()
                return 200, {"ok": True}
            if (method, action) == ("GET", "rate-limit"):
                return 200, {
                    "rate_limit": self.limiter.limit,
                    "penalty_seconds": self.limiter.penalty_seconds,
                }
            if (method, action) == ("POST", "rate-limit"):
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                self.set_rate_limit(body.get("rate_limit"), body.get("penalty_seconds"))
                return 200, {
                    "rate_limit": self.limiter.limit,
                    "penalty_seconds": self.limiter.penalty_seconds,
                }
        except (ValueError, TypeError) as exc:
            return 400, {"error": {"type": "INVALID_CONTROL_REQUEST", "message": str(exc)}}
        return 404, errors.not_found().body
