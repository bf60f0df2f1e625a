"""Per-base pacing of Airtable requests: wait for a slot instead of getting a 429.

Airtable allows 5 requests per second per base and answers more with 429 and a
30-second penalty. Every request the client sends first takes a slot here:

- `InProcessRequestPacer`: slots kept per key behind a lock (one process).
- `RedisRequestPacer`: slots kept per key in Redis by Lua scripts, so every
  thread, worker process and replica shares one budget per base.

The rule is a sliding window: a key may have at most `limit` requests in any
`window` seconds. `acquire` gives the earliest slot that keeps that true and
sleeps until then (in a worker thread: pyairtable is synchronous). When the
request has been answered, `release` moves its time from the start to the end
of the request. So the rule holds both for when requests reach Airtable and for
when Airtable finishes them: a slow request (a long filtered read) cannot end
up in the same second as the five quick writes sent after it.

The window is a little longer than a second (`margin`) so that the few
milliseconds between our clock and Airtable's cannot add a sixth request to a
second. Metadata requests (list bases, whoami) are not per base; they share
`META_KEY`.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis

from pyairtable_ui.airtable.errors import ToolCancelled
from pyairtable_ui.core.redis import redis_client
from pyairtable_ui.core.settings import get_settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "pyairtable_ui:airtable:pace:"
META_KEY = "meta"

# 5% slack: at 5 requests/s, 6 requests span >= 1.05 s, so a request timed up to
# 50 ms off by either side cannot land inside the same Airtable second.
DEFAULT_MARGIN = 0.05


@dataclass(frozen=True)
class Slot:
    """A reserved request slot, handed back to `release` when the request is answered.

    Attributes:
        key: The base id or `META_KEY`.
        at: The slot's time on the pacer's own clock (opaque to callers).
        waited: Seconds the caller waited for it.
    """

    key: str
    at: Any
    waited: float


class RequestPacer(Protocol):
    """What the client needs: take a slot before a request, release it after."""

    def acquire(self, key: str, *, cancel: threading.Event | None = None) -> Slot:
        """Block until `key` may send one request.

        Args:
            key: The base id, or `META_KEY` for requests not tied to a base.
            cancel: When set while waiting, stop and raise `ToolCancelled`.

        Returns:
            The slot (pass it to `release` once the request is answered).

        Raises:
            ToolCancelled: `cancel` was set.
        """
        ...

    def release(self, slot: Slot) -> None:
        """Count the request at the time it was answered (now) instead of when it started."""
        ...


def window_for(requests_per_second: float, margin: float = DEFAULT_MARGIN) -> tuple[int, float]:
    """The (limit, window seconds) pair that paces at `requests_per_second`.

    Args:
        requests_per_second: The allowed rate, e.g. 5.
        margin: Extra fraction added to the window for clock and network jitter.

    Returns:
        At most `limit` requests in any `window` seconds.
    """
    limit = max(1, math.floor(requests_per_second))
    return limit, limit / requests_per_second * (1.0 + margin)


def _wait(delay: float, cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise ToolCancelled()
    if delay <= 0:
        return
    if cancel is None:
        time.sleep(delay)
    elif cancel.wait(delay):
        raise ToolCancelled()


class InProcessRequestPacer:
    """Slots per key for one process; thread-safe."""

    def __init__(
        self,
        requests_per_second: float = 5.0,
        *,
        margin: float = DEFAULT_MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create a pacer with no history.

        Args:
            requests_per_second: The per-key rate (AIRTABLE_REQUESTS_PER_SECOND).
            margin: Extra fraction of the window for jitter (see module docstring).
            clock: Monotonic seconds (tests may pass a fake).
        """
        self.limit, self.window = window_for(requests_per_second, margin)
        self._clock = clock
        # Per key, the times of the latest `limit` requests, ascending.
        self._times: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str) -> tuple[float, float]:
        """Reserve the next slot for `key` without waiting.

        Args:
            key: The base id or `META_KEY`.

        Returns:
            (slot time, seconds until it).
        """
        with self._lock:
            now = self._clock()
            times = self._times.setdefault(key, [])
            slot = now
            if len(times) >= self.limit:
                slot = max(slot, times[-self.limit] + self.window)
            times.append(slot)
            times.sort()
            del times[: -self.limit]
            if len(self._times) > 10_000:
                self._forget_idle(now)
            return slot, slot - now

    def acquire(self, key: str, *, cancel: threading.Event | None = None) -> Slot:
        """Block until `key` may send one request; see `RequestPacer.acquire`."""
        if cancel is not None and cancel.is_set():
            raise ToolCancelled()
        at, delay = self.reserve(key)
        slot = Slot(key, at, max(0.0, delay))
        try:
            _wait(delay, cancel)
        except ToolCancelled:
            self.release(slot)
            raise
        return slot

    def release(self, slot: Slot) -> None:
        """Move the slot to now, when its request was answered; see `RequestPacer`."""
        with self._lock:
            times = self._times.get(slot.key)
            now = self._clock()
            if not times or now <= slot.at or slot.at not in times:
                return
            times[times.index(slot.at)] = now
            times.sort()

    def _forget_idle(self, now: float) -> None:
        # Keys whose newest request is a window old no longer constrain anything.
        idle = [k for k, t in self._times.items() if not t or t[-1] + self.window < now]
        for key in idle:
            del self._times[key]


# KEYS[1]: the key's list of request times (ascending, microseconds on Redis TIME, so
# replicas with slightly different clocks agree). ARGV: limit, window_us.
# Returns {slot, delay_us} as strings (Lua numbers would be truncated to integers).
_RESERVE_SCRIPT = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local times = redis.call('LRANGE', KEYS[1], 0, -1)
local slot = now
if #times >= limit then
  local kth = tonumber(times[#times - limit + 1])
  if kth + window > slot then slot = kth + window end
end
local values = {}
for _, v in ipairs(times) do table.insert(values, tonumber(v)) end
table.insert(values, slot)
table.sort(values)
while #values > limit do table.remove(values, 1) end
redis.call('DEL', KEYS[1])
for _, v in ipairs(values) do redis.call('RPUSH', KEYS[1], string.format('%.0f', v)) end
redis.call('PEXPIRE', KEYS[1], math.ceil((slot - now + window) / 1000) + 5000)
return {string.format('%.0f', slot), string.format('%.0f', slot - now)}
"""

# KEYS[1]: as above. ARGV[1]: the slot to move to now (its request was answered).
_RELEASE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local times = redis.call('LRANGE', KEYS[1], 0, -1)
local values = {}
local moved = false
for _, v in ipairs(times) do
  local n = tonumber(v)
  if not moved and v == ARGV[1] and now > n then
    n = now
    moved = true
  end
  table.insert(values, n)
end
if not moved then return 0 end
table.sort(values)
redis.call('DEL', KEYS[1])
for _, v in ipairs(values) do redis.call('RPUSH', KEYS[1], string.format('%.0f', v)) end
redis.call('PEXPIRE', KEYS[1], 10000)
return 1
"""


class RedisBreaker:
    """Stops asking Redis for a while after it failed, so an outage costs one slow call.

    The Redis client retries a refused connection with backoff (seconds); without
    this, every Airtable request of every turn would wait that long during an outage.
    """

    def __init__(self, name: str, *, cool_down: float = 30.0) -> None:
        """Create a closed breaker.

        Args:
            name: What uses Redis, for the log line.
            cool_down: Seconds to skip Redis after a failure.
        """
        self.name = name
        self.cool_down = cool_down
        self._open_until = 0.0
        self._lock = threading.Lock()

    @property
    def open(self) -> bool:
        """Whether Redis is being skipped right now."""
        return time.monotonic() < self._open_until

    def trip(self, exc: Exception) -> None:
        """Record a Redis failure: skip Redis for `cool_down` seconds (logged once)."""
        with self._lock:
            already_open = self.open
            self._open_until = time.monotonic() + self.cool_down
        if not already_open:
            logger.warning(
                "%s falls back to this process for %.0fs: Redis error %s: %s",
                self.name,
                self.cool_down,
                type(exc).__name__,
                exc,
            )


class RedisRequestPacer:
    """Slots per key in Redis, shared by every process and replica."""

    def __init__(
        self,
        requests_per_second: float = 5.0,
        *,
        client: redis.Redis,
        margin: float = DEFAULT_MARGIN,
        fallback: InProcessRequestPacer | None = None,
        prefix: str = KEY_PREFIX,
    ) -> None:
        """Create a pacer over an existing Redis client.

        Args:
            requests_per_second: The per-key rate.
            client: The Redis client.
            margin: Extra fraction of the window for jitter.
            fallback: Pacer used while Redis does not answer, so a Redis outage
                slows nothing down to a halt (each process then paces alone).
            prefix: Key prefix (tests use their own so runs cannot see each other).
        """
        self._prefix = prefix
        self.limit, self.window = window_for(requests_per_second, margin)
        self._reserve = client.register_script(_RESERVE_SCRIPT)
        self._release = client.register_script(_RELEASE_SCRIPT)
        self._fallback = fallback or InProcessRequestPacer(requests_per_second, margin=margin)
        self.breaker = RedisBreaker("airtable pacing")

    def reserve(self, key: str) -> tuple[Any, float]:
        """Reserve the next slot for `key` without waiting.

        Args:
            key: The base id or `META_KEY`.

        Returns:
            (slot, seconds until it); the slot is a string from Redis, or a float
            from the in-process fallback while Redis is down.
        """
        if self.breaker.open:
            return self._fallback.reserve(key)
        try:
            raw_slot, raw_delay = self._reserve(
                keys=[self._prefix + key],
                args=[self.limit, round(self.window * 1_000_000)],
            )
        except redis.RedisError as exc:
            self.breaker.trip(exc)
            return self._fallback.reserve(key)
        slot = raw_slot.decode() if isinstance(raw_slot, bytes) else str(raw_slot)
        return slot, int(raw_delay) / 1_000_000

    def acquire(self, key: str, *, cancel: threading.Event | None = None) -> Slot:
        """Block until `key` may send one request; see `RequestPacer.acquire`."""
        if cancel is not None and cancel.is_set():
            raise ToolCancelled()
        at, delay = self.reserve(key)
        slot = Slot(key, at, max(0.0, delay))
        try:
            _wait(delay, cancel)
        except ToolCancelled:
            self.release(slot)
            raise
        return slot

    def release(self, slot: Slot) -> None:
        """Move the slot to now, when its request was answered; see `RequestPacer`."""
        if isinstance(slot.at, float):
            self._fallback.release(slot)  # reserved while Redis was down
            return
        if self.breaker.open:
            return
        try:
            self._release(keys=[self._prefix + slot.key], args=[slot.at])
        except redis.RedisError as exc:
            self.breaker.trip(exc)


def make_request_pacer(
    *, requests_per_second: float, redis_url: str | None, margin: float = DEFAULT_MARGIN
) -> RequestPacer:
    """A pacer in Redis when a URL is given, otherwise in this process.

    Args:
        requests_per_second: The per-base rate.
        redis_url: REDIS_URL or None.
        margin: Extra fraction of the window for jitter.

    Returns:
        The pacer.
    """
    if redis_url:
        return RedisRequestPacer(requests_per_second, client=redis_client(redis_url), margin=margin)
    return InProcessRequestPacer(requests_per_second, margin=margin)


@functools.cache
def get_request_pacer() -> RequestPacer:
    """The process's pacer: one per process so all its turns share each base's budget."""
    settings = get_settings()
    return make_request_pacer(
        requests_per_second=settings.airtable_requests_per_second,
        redis_url=settings.redis_url,
    )
