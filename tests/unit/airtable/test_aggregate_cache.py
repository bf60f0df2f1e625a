"""The aggregate cache on its own: expiry, generations against a write under way, Redis."""

from __future__ import annotations

import pytest
import redis

from pyairtable_ui.actions.steps import written_base_id
from pyairtable_ui.airtable.aggregate_cache import (
    AggregateCache,
    InProcessAggregateCache,
    RedisAggregateCache,
    entry_key,
)
from tests.unit.conftest import REDIS_URL

BASE = "appAggregates0001"
OTHER_BASE = "appAggregates0002"
ENTRY = {"content": '{"value":3}', "display": None, "read_record_text": False}


@pytest.fixture(params=["memory", "redis"])
def cache(request) -> AggregateCache:
    if request.param == "memory":
        return InProcessAggregateCache()
    request.getfixturevalue("redis_server")
    prefix = request.getfixturevalue("redis_prefix")
    return RedisAggregateCache(redis.Redis.from_url(REDIS_URL), prefix=prefix)


def test_an_entry_is_served_until_its_base_is_written(cache: AggregateCache) -> None:
    key = entry_key(user=1, table="tblItems", op="count")
    entry, generation = cache.lookup(BASE, key)
    assert entry is None
    cache.put(BASE, key, ENTRY, generation=generation, ttl=60)
    cache.put(OTHER_BASE, key, ENTRY, generation=cache.lookup(OTHER_BASE, key)[1], ttl=60)
    assert cache.lookup(BASE, key)[0] == ENTRY

    cache.invalidate(BASE)
    assert cache.lookup(BASE, key)[0] is None
    assert cache.lookup(OTHER_BASE, key)[0] == ENTRY  # another base keeps its results


def test_a_result_computed_while_a_write_ran_is_not_kept(cache: AggregateCache) -> None:
    # Read half before and half after the write: neither the old nor the new answer.
    key = entry_key(user=1, table="tblItems", op="sum", field="fldIndex")
    _, started_at = cache.lookup(BASE, key)
    cache.invalidate(BASE)
    cache.put(BASE, key, ENTRY, generation=started_at, ttl=60)
    assert cache.lookup(BASE, key)[0] is None


def test_no_ttl_keeps_nothing(cache: AggregateCache) -> None:
    key = entry_key(user=1)
    cache.put(BASE, key, ENTRY, generation=cache.lookup(BASE, key)[1], ttl=0)
    assert cache.lookup(BASE, key)[0] is None


def test_keys_differ_by_every_part_and_not_by_order() -> None:
    key = entry_key(user=1, token="abc", table="tbl1", op="count", options={"formula": "x"})
    assert key == entry_key(options={"formula": "x"}, op="count", table="tbl1", token="abc", user=1)
    assert key != entry_key(user=2, token="abc", table="tbl1", op="count", options={"formula": "x"})
    assert key != entry_key(user=1, token="abc", table="tbl1", op="count", options={"formula": "y"})


def test_memory_entries_expire_and_stay_bounded() -> None:
    now = [0.0]
    cache = InProcessAggregateCache(clock=lambda: now[0])
    cache.put(BASE, "a", ENTRY, generation=0, ttl=60)
    now[0] = 59.9
    assert cache.lookup(BASE, "a")[0] == ENTRY
    now[0] = 60.0
    assert cache.lookup(BASE, "a")[0] is None
    for n in range(1500):
        cache.put(BASE, f"k{n}", ENTRY, generation=0, ttl=60)
    assert len(cache._entries) <= 1000
    assert cache.lookup(BASE, "k1499")[0] == ENTRY


def test_redis_entries_expire_with_their_base_key(redis_server, redis_prefix) -> None:
    cache = RedisAggregateCache(redis.Redis.from_url(REDIS_URL), prefix=redis_prefix)
    cache.put(BASE, "a", ENTRY, generation=0, ttl=30)
    assert 0 < redis_server.pttl(redis_prefix + BASE) <= 30_000
    cache.invalidate(BASE)
    assert redis_server.get(redis_prefix + BASE + ":generation") == b"1"
    assert redis_server.exists(redis_prefix + BASE) == 0


def test_a_redis_outage_is_a_miss_not_an_error() -> None:
    down = redis.Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2)
    cache = RedisAggregateCache(down, prefix="pyairtable_ui:test:down:")
    assert cache.lookup(BASE, "a") == (None, -1)
    cache.put(BASE, "a", ENTRY, generation=-1, ttl=60)  # nothing to keep, no error
    cache.invalidate(BASE)  # logged


@pytest.mark.parametrize(
    ("components", "base"),
    [
        ([BASE, "tblItems"], BASE),
        ([BASE, "tblItems", "recItem", "comments"], BASE),
        (["meta", "bases", BASE, "tables"], BASE),
        (["meta", "bases", BASE, "tables", "tblItems", "fields"], BASE),
    ],
)
def test_every_write_names_the_base_it_changes(components: list[str], base: str) -> None:
    assert written_base_id(components) == base
