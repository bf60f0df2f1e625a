"""Aggregate results kept for a short while, so a follow-up question does not page again.

An aggregate reads every matching record: 5,000 records are 50 requests, ten seconds at
Airtable's 5 requests/s. A follow-up ("and what share of all deals is that?") often
has the model run the same aggregate again, and would pay that again. So `aggregate`
keeps its result for AGGREGATE_CACHE_SECONDS (Redis when configured, shared by every
worker and replica; else this process), keyed by who asked (user and token: what their
token may read), which Airtable, base, table and the whole question (operation,
fields, filters, view).

A write through the action pipeline (`actions.steps.StepWriter`) calls `invalidate`
for the base it writes to, also when the request failed or its outcome is unknown.
The whole base, not the one table: a link written in one table changes the inverse
link, lookups and rollups of another. Every base has a generation number that
`invalidate` raises: a result computed while a write was under way carries the
generation it started with and is not served, so a result read half before and half
after a write never comes back. Changes made in Airtable itself are not seen until
the entry expires, hence the short time.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import redis

from pyairtable_ui.airtable.limiter import RedisBreaker
from pyairtable_ui.core.redis import redis_client
from pyairtable_ui.core.settings import get_settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "pyairtable_ui:airtable:aggregates:"
# Entries this process keeps at most (without Redis); expired ones go first.
MAX_LOCAL_ENTRIES = 1000
# A generation outlives every entry by far; after a quiet day it may start over at 0.
GENERATION_SECONDS = 86_400


def entry_key(**parts: Any) -> str:
    """A short key for everything that decides an aggregate's result."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class AggregateCache(Protocol):
    """Where aggregate results are kept between turns."""

    def lookup(self, base_id: str, key: str) -> tuple[dict[str, Any] | None, int]:
        """The fresh entry for `key` (or None) and the base's current generation."""
        ...

    def put(
        self,
        base_id: str,
        key: str,
        entry: dict[str, Any],
        *,
        generation: int,
        ttl: float,
    ) -> None:
        """Keep `entry` for `ttl` seconds, unless the base was written since `generation`."""
        ...

    def invalidate(self, base_id: str) -> None:
        """Forget every entry of the base and raise its generation."""
        ...


class InProcessAggregateCache:
    """Entries in this process's memory (the only process when Redis is not configured)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        """Create an empty cache.

        Args:
            clock: Monotonic seconds (tests pass a fake one to expire entries).
        """
        self._clock = clock
        self._lock = threading.Lock()
        self._generations: dict[str, int] = {}
        self._entries: dict[tuple[str, str], tuple[float, int, dict[str, Any]]] = {}

    def lookup(self, base_id: str, key: str) -> tuple[dict[str, Any] | None, int]:
        """See `AggregateCache.lookup`."""
        with self._lock:
            generation = self._generations.get(base_id, 0)
            item = self._entries.get((base_id, key))
            if item is None:
                return None, generation
            expires, stored_generation, entry = item
            if expires <= self._clock() or stored_generation != generation:
                del self._entries[(base_id, key)]
                return None, generation
            return entry, generation

    def put(
        self,
        base_id: str,
        key: str,
        entry: dict[str, Any],
        *,
        generation: int,
        ttl: float,
    ) -> None:
        """See `AggregateCache.put`."""
        with self._lock:
            if ttl <= 0 or self._generations.get(base_id, 0) != generation:
                return
            now = self._clock()
            if len(self._entries) >= MAX_LOCAL_ENTRIES:
                for stale in [k for k, (expires, _, _) in self._entries.items() if expires <= now]:
                    del self._entries[stale]
            if len(self._entries) >= MAX_LOCAL_ENTRIES:
                del self._entries[min(self._entries, key=lambda k: self._entries[k][0])]
            self._entries[(base_id, key)] = (now + ttl, generation, entry)

    def invalidate(self, base_id: str) -> None:
        """See `AggregateCache.invalidate`."""
        with self._lock:
            self._generations[base_id] = self._generations.get(base_id, 0) + 1
            for stale in [k for k in self._entries if k[0] == base_id]:
                del self._entries[stale]


class RedisAggregateCache:
    """Entries in Redis, one hash per base beside its generation counter.

    A lookup is one round trip (the entry and the generation together); an entry
    records its own expiry, and the hash expires after the last one put.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = KEY_PREFIX) -> None:
        """Create a cache over an existing Redis client.

        Args:
            client: The Redis client.
            prefix: Key prefix (tests use their own so runs cannot see each other).
        """
        self._client = client
        self._prefix = prefix
        self.breaker = RedisBreaker("aggregate cache")

    def _keys(self, base_id: str) -> tuple[str, str]:
        return self._prefix + base_id, self._prefix + base_id + ":generation"

    def lookup(self, base_id: str, key: str) -> tuple[dict[str, Any] | None, int]:
        """See `AggregateCache.lookup`; a Redis failure is a miss at generation -1."""
        if self.breaker.open:
            return None, -1
        entries_key, generation_key = self._keys(base_id)
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.hget(entries_key, key)
            pipe.get(generation_key)
            raw, raw_generation = pipe.execute()
        except redis.RedisError as exc:
            self.breaker.trip(exc)
            return None, -1
        generation = int(raw_generation or 0)
        if raw is None:
            return None, generation
        try:
            stored = json.loads(raw)
        except ValueError:
            return None, generation
        if (
            not isinstance(stored, dict)
            or stored.get("generation") != generation
            or float(stored.get("expires", 0)) <= time.time()
        ):
            return None, generation
        entry = stored.get("entry")
        return (entry if isinstance(entry, dict) else None), generation

    def put(
        self,
        base_id: str,
        key: str,
        entry: dict[str, Any],
        *,
        generation: int,
        ttl: float,
    ) -> None:
        """See `AggregateCache.put` (a failure is logged: the result is still answered)."""
        if ttl <= 0 or generation < 0 or self.breaker.open:
            return
        entries_key, generation_key = self._keys(base_id)
        stored = {"generation": generation, "expires": time.time() + ttl, "entry": entry}
        try:
            # Checked again just before: a write that started since does not get an
            # entry computed before it (one that starts in between is caught by lookup).
            current: Any = self._client.get(generation_key)
            if int(current or 0) != generation:
                return
            pipe = self._client.pipeline(transaction=False)
            pipe.hset(entries_key, key, json.dumps(stored, separators=(",", ":")))
            pipe.pexpire(entries_key, int(ttl * 1000))
            pipe.execute()
        except redis.RedisError as exc:
            self.breaker.trip(exc)

    def invalidate(self, base_id: str) -> None:
        """See `AggregateCache.invalidate`."""
        entries_key, generation_key = self._keys(base_id)
        try:
            # Not skipped when the breaker is open: a stale total must not outlive a write.
            pipe = self._client.pipeline(transaction=False)
            pipe.incr(generation_key)
            pipe.expire(generation_key, GENERATION_SECONDS)
            pipe.delete(entries_key)
            pipe.execute()
        except redis.RedisError as exc:
            logger.warning("aggregate cache invalidation failed base=%s error=%s", base_id, exc)
            self.breaker.trip(exc)


@functools.cache
def get_aggregate_cache() -> AggregateCache:
    """The process's aggregate cache: Redis when REDIS_URL is set, else in memory."""
    url = get_settings().redis_url
    if url:
        return RedisAggregateCache(redis_client(url))
    return InProcessAggregateCache()


def invalidate(base_id: str, *, cache: AggregateCache | None = None) -> None:
    """Forget the base's aggregates (called for every write the app sends to it).

    Args:
        base_id: ``app...``.
        cache: The cache to use; the process's by default.
    """
    (cache if cache is not None else get_aggregate_cache()).invalidate(base_id)
