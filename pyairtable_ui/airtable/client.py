"""The one way the app talks to Airtable: pyairtable behind pacing, retries and counting.

`AirtableClient` wraps a pyairtable `Api` whose HTTP session is replaced by
`PacedSession`. Every HTTP request pyairtable makes (including each follow-up
page of a listing and each 10-record batch) passes through `PacedSession.request`,
which:

1. stops with `ToolCancelled` if the user pressed Stop (`client.cancel()`), and with
   `AirtableBudgetError` once the instance's monthly budget is used up (`budget.check`),
2. waits for the base's slot from the request pacer (5 requests/s per base),
3. sends the request, counts it (on the client and in Prometheus),
4. retries 429 (honouring Retry-After) and 5xx / connection failures with
   exponential backoff and jitter, and
5. turns a final failure into an `AirtableError` with messages for the user and
   for the model.

pyairtable's own urllib3 retries are switched off (`retry_strategy=None`) so
the two never double up. One client serves one chat turn: its `calls` say how
many requests that turn made. Never log or show `token`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from pyairtable_ui.airtable import budget, usage
from pyairtable_ui.airtable.errors import (
    AirtableError,
    ToolCancelled,
    error_from_bad_body,
    error_from_exception,
    error_from_response,
)
from pyairtable_ui.airtable.limiter import META_KEY, RequestPacer, get_request_pacer
from pyairtable_ui.core import tracing
from pyairtable_ui.core.observability import AIRTABLE_REQUESTS

if TYPE_CHECKING:
    from pyairtable.api.base import Base
    from pyairtable.api.table import Table

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_TIMEOUT = (5, 30)  # seconds: connect, read

# Request kinds counted per turn.
KIND_META = "meta"  # whoami, list of bases: not tied to one base
KIND_SCHEMA = "schema"  # /v0/meta/bases/{base}/...: tables and fields
KIND_READ = "read"  # GET records, comments
KIND_WRITE = "write"  # POST/PATCH/PUT/DELETE records, comments

# Methods safe to resend when the answer never came (the first try may have been applied).
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class RetryPolicy:
    """How the client retries.

    Attributes:
        attempts: Tries in all for 5xx and connection failures.
        rate_limit_attempts: Tries in all for 429 (Airtable's penalty is 30 s, so
            the backoff must be able to outlast it).
        backoff: First wait in seconds; doubles each retry.
        max_backoff: The longest single wait.
        jitter: Up to this fraction is added at random, so threads spread out.
        server_error_attempts: Tries in all for 5xx, when not `attempts` (a person
            waiting on a token check is told at once instead).
        resend_unanswered: Whether a request that reached Airtable but got no answer
            (a read timeout, a dropped connection) is sent again. A request that
            never left (connection refused) is always resent.
    """

    attempts: int = 4
    rate_limit_attempts: int = 7
    backoff: float = 1.0
    max_backoff: float = 30.0
    jitter: float = 0.25
    server_error_attempts: int | None = None
    resend_unanswered: bool = True

    @property
    def server_error_limit(self) -> int:
        """Tries in all for 5xx answers."""
        if self.server_error_attempts is None:
            return self.attempts
        return self.server_error_attempts

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        base = min(self.backoff * 2 ** (retry - 1), self.max_backoff)
        return base * (1.0 + random.uniform(0.0, self.jitter))


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP request the client sent (kept for the turn's audit and for tests).

    Attributes:
        method: HTTP method.
        path: URL path, e.g. ``/v0/appX/tblY`` (no query string: filters may hold data).
        kind: meta, schema, read or write.
        status: HTTP status, or 0 when no answer came.
        seconds: Time the request took, excluding pacing waits.
        waited: Seconds spent waiting for a pacing slot before it.
    """

    method: str
    path: str
    kind: str
    status: int
    seconds: float
    waited: float


def _api_parts(path: str) -> list[str]:
    # Path components after "/v0" (AIRTABLE_API_URL may itself carry a path prefix).
    parts = [unquote(p) for p in path.split("/") if p]
    if "v0" in parts:
        parts = parts[parts.index("v0") + 1 :]
    return parts


def pacing_key(path: str) -> str:
    """The pacing key for a URL path: the base id, or `META_KEY` for account-wide calls.

    Args:
        path: A URL path such as ``/v0/appX/tblY`` or ``/v0/meta/bases/appX/tables``.

    Returns:
        The base id (``app...``) or `META_KEY`.
    """
    parts = _api_parts(path)
    if not parts:
        return META_KEY
    if parts[0] == "meta":
        # /meta/bases/{base}/tables... is the base's schema; /meta/bases and whoami are not.
        if len(parts) >= 3 and parts[1] == "bases":
            return parts[2]
        return META_KEY
    if parts[0] == "bases" and len(parts) >= 2:
        return parts[1]  # webhooks and other /v0/bases/{base}/... routes
    return parts[0]


def request_kind(method: str, path: str) -> str:
    """Which kind of request this is, for the per-turn counts."""
    parts = _api_parts(path)
    if parts and parts[0] == "meta":
        return KIND_SCHEMA if len(parts) >= 3 and parts[1] == "bases" else KIND_META
    return KIND_READ if method.upper() == "GET" else KIND_WRITE


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the request failed before any byte reached the server (safe to resend)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", exc.args[0])
        return isinstance(reason, NewConnectionError)
    return False


class PacedSession(requests.Session):
    """A requests session that paces, counts, retries and maps errors for one client."""

    def __init__(self, owner: AirtableClient) -> None:
        super().__init__()
        self._owner = owner

    def request(  # type: ignore[override]
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send one request through pacing and retries; see the module docstring.

        Returns:
            A successful (2xx/3xx) response.

        Raises:
            ToolCancelled: Stop was pressed before or while waiting.
            AirtableError: Airtable refused, or did not answer after the retries.
        """
        owner = self._owner
        method = method.decode() if isinstance(method, bytes) else str(method)
        url = url.decode() if isinstance(url, bytes) else str(url)
        path = urlsplit(url).path
        key = pacing_key(path)
        kind = request_kind(method, path)
        what = f"{method.upper()} {path}"
        policy = owner.retry_policy
        server_failures = 0
        rate_limited = 0
        if owner.counts_toward_budget:
            owner.check_cancelled()
            budget.check()
        while True:
            slot = owner.pacer.acquire(key, cancel=owner.cancel_event)
            waited = slot.waited
            started = time.monotonic()
            try:
                response = super().request(method, url, *args, **kwargs)
            except requests.RequestException as exc:
                owner.pacer.release(slot)
                owner._record(method, path, kind, 0, time.monotonic() - started, waited)
                server_failures += 1
                # A POST that reached Airtable may have been applied: resending could
                # duplicate records, so it is resent only when it surely never left.
                resend_safe = _never_sent(exc) or (
                    policy.resend_unanswered and method.upper() in _IDEMPOTENT
                )
                if server_failures >= policy.attempts or not resend_safe:
                    logger.warning(
                        "airtable request failed method=%s path=%s error=%s tries=%d",
                        method,
                        path,
                        type(exc).__name__,
                        server_failures,
                    )
                    raise error_from_exception(exc, what=what) from exc
                self._sleep(policy.delay(server_failures), what, f"{type(exc).__name__}")
                continue
            # Counted again at its end: a slow answer must not share a second with later ones.
            owner.pacer.release(slot)
            status = response.status_code
            owner._record(method, path, kind, status, time.monotonic() - started, waited)
            if status == 429:
                rate_limited += 1
                if rate_limited >= policy.rate_limit_attempts:
                    logger.warning("airtable rate limit persisted path=%s", path)
                    raise error_from_response(response, what=what, retries_exhausted=True)
                retry_after = _retry_after_seconds(response)
                delay = (
                    min(retry_after, policy.max_backoff * 2)
                    if retry_after is not None
                    else policy.delay(rate_limited)
                )
                self._sleep(delay, what, "429")
                continue
            if status >= 500:
                server_failures += 1
                if server_failures >= policy.server_error_limit:
                    logger.warning(
                        "airtable server error persisted status=%s path=%s", status, path
                    )
                    raise error_from_response(response, what=what, retries_exhausted=True)
                self._sleep(policy.delay(server_failures), what, str(status))
                continue
            if status >= 400:
                error = error_from_response(response, what=what)
                logger.info(
                    "airtable refused status=%s type=%s method=%s path=%s",
                    status,
                    error.type,
                    method,
                    path,
                )
                raise error
            return response

    def _sleep(self, delay: float, what: str, reason: str) -> None:
        logger.info("airtable retry in %.2fs after %s: %s", delay, reason, what)
        if self._owner.cancel_event.wait(delay):
            raise ToolCancelled()


class AirtableClient:
    """pyairtable for one chat turn (or one action run): paced, retried, counted.

    Attributes:
        api: The pyairtable `Api` whose every request goes through this client.
        pacer: The per-base request pacer.
        retry_policy: How failures are retried.
        calls: Requests sent so far (retries included: each is a real request).
        calls_by_kind: The same, by kind (meta, schema, read, write).
        requests: The requests sent, in order (method, path, status, timings).
        cancel_event: Set by `cancel()`; checked before every request and wait.
    """

    def __init__(
        self,
        token: str,
        *,
        api_url: str,
        limiter: RequestPacer | None = None,
        counter: Any = AIRTABLE_REQUESTS,
        timeout: tuple[int, int] = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
        user_id: int | None = None,
    ) -> None:
        """Create a client; nothing is sent yet.

        Args:
            token: The user's Airtable token (never logged).
            api_url: AIRTABLE_API_URL, e.g. https://api.airtable.com or the emulator.
            limiter: The request pacer; the process's shared one by default.
            counter: A Prometheus counter with labels (method, status).
            timeout: (connect, read) seconds per request.
            retry_policy: Retry settings; defaults suit real Airtable.
            user_id: Whose requests these are, for the daily per-base counts the
                analytics page reads (`airtable.usage`); None counts nothing there.
        """
        self.pacer: RequestPacer = limiter if limiter is not None else get_request_pacer()
        self.retry_policy = retry_policy or RetryPolicy()
        self.cancel_event = threading.Event()
        self.calls = 0
        self.calls_by_kind: Counter[str] = Counter()
        # Bounded: a long-lived client (a big import) must not grow without end.
        self.requests: deque[RequestRecord] = deque(maxlen=5000)
        self._counter = counter
        self._user_id = user_id
        self._count_lock = threading.Lock()
        # Imported here, with the first client: pyairtable builds its pydantic models at
        # import (about 8 MB), which a worker needs only once it talks to Airtable.
        from pyairtable import Api

        # retry_strategy=None: our session retries; urllib3's would double the attempts.
        self.api = Api(token, endpoint_url=api_url, timeout=timeout, retry_strategy=None)
        self.api.session = PacedSession(self)
        self.api.api_key = token  # re-applies the Authorization header to the new session
        # Identifies the token in caches without storing anything that could be used as it.
        self.token_fingerprint = hashlib.sha256(token.encode("utf-8")).hexdigest()[:24]

    def __repr__(self) -> str:
        return f"<AirtableClient calls={self.calls}>"

    @property
    def counts_toward_budget(self) -> bool:
        """A user's client: its requests are counted and held to the monthly budget.

        The token check while connecting (no user yet) is neither: it must work even
        when the budget is used up, so an admin can still connect and raise it.
        """
        return self._user_id is not None

    # --- pyairtable objects -------------------------------------------------------

    def base(self, base_id: str) -> Base:
        """The pyairtable `Base` for `base_id` (no request is made)."""
        return self.api.base(base_id)

    def table(self, base_id: str, table: str) -> Table:
        """The pyairtable `Table` for a table id or name (no request is made)."""
        return self.api.table(base_id, table)

    def url(self, *components: str) -> str:
        """The full URL of an API path under /v0, e.g. ``url("meta", "bases")``."""
        return str(self.api.build_url(*components))

    def request(self, method: str, *components: str, **kwargs: Any) -> Any:
        """Send one request to ``/v0/<components>`` and return the decoded JSON.

        Args:
            method: HTTP method.
            *components: Path components after /v0.
            **kwargs: `options`, `params`, `json` as pyairtable's `Api.request` takes.

        Returns:
            The JSON body (None when empty).

        Raises:
            AirtableError: Airtable refused or could not answer.
            ToolCancelled: Stop was pressed.
        """
        url = self.url(*components)
        try:
            return self.api.request(method, url, **kwargs)
        except ValueError as exc:
            # pyairtable parses the body as JSON; a proxy's HTML page lands here.
            raise error_from_bad_body(exc, what=f"{method} {urlsplit(url).path}") from exc

    def list_records_page(self, base_id: str, table_id: str, **options: Any) -> dict[str, Any]:
        """One page of List records: ``{"records": [...], "offset": ...}``.

        Long formulas are sent as POST .../listRecords, as pyairtable does.

        Args:
            base_id: ``app...``.
            table_id: Table id or name.
            **options: pyairtable options: formula (str), fields, sort, view,
                page_size, max_records, offset, cell_format, time_zone...

        Returns:
            Airtable's answer.

        Raises:
            AirtableError: Airtable refused or could not answer.
            ToolCancelled: Stop was pressed.
        """
        table = self.table(base_id, table_id)
        try:
            page = self.api.request(
                "get",
                table.urls.records,
                fallback=("post", table.urls.records_post),
                options=options,
            )
        except ValueError as exc:
            raise error_from_bad_body(exc, what=f"list records of {table_id}") from exc
        return page if isinstance(page, dict) else {"records": []}

    def iterate_records(
        self, base_id: str, table_id: str, **options: Any
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of List records, following offsets; stops at once on `cancel()`.

        Args:
            base_id: ``app...``.
            table_id: Table id or name.
            **options: As for `list_records_page` (without offset).

        Yields:
            Each page's records.
        """
        options = {"page_size": 100, **options}
        while True:
            self.check_cancelled()
            page = self.list_records_page(base_id, table_id, **options)
            yield list(page.get("records") or [])
            offset = page.get("offset")
            if not offset:
                return
            options["offset"] = offset

    # --- cancellation and threads ---------------------------------------------------

    def cancel(self) -> None:
        """Ask the running work to stop before its next request (the Stop button)."""
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        """Whether `cancel()` was called."""
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        """Raise `ToolCancelled` if Stop was pressed (for loops between requests)."""
        if self.cancel_event.is_set():
            raise ToolCancelled()

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking pyairtable work in a thread so the event loop stays free.

        If the awaiting task is cancelled, the thread cannot be killed, so the
        client is cancelled too: the work stops before its next request.

        Args:
            fn: The blocking function.
            *args: Its positional arguments.
            **kwargs: Its keyword arguments.

        Returns:
            What `fn` returned.
        """
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except asyncio.CancelledError:
            self.cancel()
            raise

    # --- counting -------------------------------------------------------------------

    def _record(
        self, method: str, path: str, kind: str, status: int, seconds: float, waited: float
    ) -> None:
        with self._count_lock:
            self.calls += 1
            self.calls_by_kind[kind] += 1
            self.requests.append(
                RequestRecord(method.upper(), path, kind, status, round(seconds, 4), waited)
            )
        if self._counter is not None:
            self._counter.labels(method=method.upper(), status=str(status or "error")).inc()
        if self._user_id is not None:
            usage.count(self._user_id, pacing_key(path), status)
        # Under the tool's span (the tool's thread carries its context), else a root span.
        tracing.record_span(
            "airtable.request",
            seconds=seconds,
            attributes={
                "http.request.method": method.upper(),
                "url.path": path,
                "http.response.status_code": status,
                "pyairtable_ui.airtable_kind": kind,
                "pyairtable_ui.paced_wait_seconds": round(waited, 4),
            },
            error=None if 0 < status < 400 else f"status {status or 'no answer'}",
        )
        logger.debug(
            "airtable %s %s -> %s in %.3fs (waited %.3fs)",
            method.upper(),
            path,
            status or "no answer",
            seconds,
            waited,
        )


__all__ = [
    "AirtableClient",
    "AirtableError",
    "PacedSession",
    "RequestRecord",
    "RetryPolicy",
    "ToolCancelled",
    "pacing_key",
    "request_kind",
]
