"""Per-base pacing: at most 5 requests in any second per base, across threads and processes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.errors import ToolCancelled
from pyairtable_ui.airtable.limiter import (
    META_KEY,
    InProcessRequestPacer,
    RedisRequestPacer,
    window_for,
)
from pyairtable_ui.emulator.seeds import BASE_CRM_ID, BASE_PROJECTS_ID, TOKEN_FULL
from tests.unit.conftest import REDIS_URL


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def max_in_any_second(times: list[float]) -> int:
    """The most timestamps that fall within one second of each other."""
    times = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_five_requests_go_at_once_and_the_sixth_waits_for_the_window():
    clock = FakeClock()
    pacer = InProcessRequestPacer(5, clock=clock)
    delays = [pacer.reserve(BASE_CRM_ID)[1] for _ in range(7)]
    assert delays[:5] == [0, 0, 0, 0, 0]
    assert delays[5] == pytest.approx(pacer.window)
    assert delays[6] == pytest.approx(pacer.window)
    assert pacer.window > 1.0  # a margin over Airtable's second absorbs network jitter
    # Another base has its own budget.
    assert pacer.reserve(BASE_PROJECTS_ID)[1] == 0


def test_slots_stay_five_per_window_whatever_the_order_of_arrival():
    clock = FakeClock()
    pacer = InProcessRequestPacer(5, clock=clock)
    slots = []
    for step in range(40):
        clock.now += 0.07 * (step % 3)  # bursts and pauses
        slots.append(pacer.reserve("appX")[0])
    limit, window = window_for(5)
    for i in range(len(slots) - limit):
        assert slots[i + limit] - slots[i] >= window - 1e-9


def test_a_slow_request_counts_when_it_ends():
    clock = FakeClock()
    pacer = InProcessRequestPacer(5, clock=clock)
    slots = [pacer.acquire("appX") for _ in range(5)]
    clock.now += 0.5  # the five requests took half a second to answer
    for slot in slots:
        pacer.release(slot)
    assert pacer.reserve("appX")[1] == pytest.approx(pacer.window)


def test_slow_answers_never_put_six_requests_in_one_second(airtable_emulator_factory):
    # The emulator stamps a request when it has answered it; a slow read followed by
    # quick writes must still show at most five stamps in any second.
    emulator = airtable_emulator_factory(rate_limit=5, penalty_seconds=0.5)
    emulator.inject_failure(method="GET", status=None, delay=0.3, count=1)
    client = AirtableClient(TOKEN_FULL, api_url=emulator.url, limiter=InProcessRequestPacer(5))
    for _ in range(8):
        client.request("GET", BASE_CRM_ID, "Deals", params={"pageSize": 1})
    stats = emulator.stats()
    assert stats["by_status"] == {"200": 8}
    assert max_in_any_second([r["t"] for r in stats["requests"]]) <= 5


def test_fractional_rates_pace_one_request_at_a_time():
    assert window_for(0.5) == (1, pytest.approx(2.1))
    assert window_for(2.5)[0] == 2


def test_pacing_holds_five_per_second_per_base_across_three_threads(airtable_emulator_factory):
    emulator = airtable_emulator_factory(rate_limit=5, penalty_seconds=0.5)
    pacer = InProcessRequestPacer(5)  # the real rate, shared by the three "turns"
    errors: list[BaseException] = []

    def turn() -> None:
        client = AirtableClient(TOKEN_FULL, api_url=emulator.url, limiter=pacer)
        try:
            for _ in range(4):
                client.request("GET", BASE_CRM_ID, "Contacts", params={"pageSize": 1})
        except BaseException as exc:  # handed to the test's assertion below
            errors.append(exc)

    threads = [threading.Thread(target=turn) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    stats = emulator.stats()
    assert stats["by_status"] == {"200": 12}, "the emulator answered 429: pacing failed"
    times = [r["t"] for r in stats["requests"] if r["base"] == BASE_CRM_ID]
    assert len(times) == 12
    assert max_in_any_second(times) <= 5


def test_metadata_calls_share_one_global_key():
    clock = FakeClock()
    pacer = InProcessRequestPacer(5, clock=clock)
    for _ in range(5):
        assert pacer.reserve(META_KEY)[1] == 0
    assert pacer.reserve(META_KEY)[1] > 0


def test_cancel_interrupts_a_wait_for_a_slot():
    pacer = InProcessRequestPacer(0.2)  # one request every five seconds
    cancel = threading.Event()
    pacer.acquire("appSlow", cancel=cancel)  # uses the only slot of these five seconds
    threading.Timer(0.1, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(ToolCancelled):
        pacer.acquire("appSlow", cancel=cancel)
    # Without the cancel the wait would last five seconds; a busy machine may take a moment.
    assert time.monotonic() - started < 2.5


# --- Redis ----------------------------------------------------------------------------


@pytest.fixture
def redis_pacers(redis_server: redis.Redis, redis_prefix: str) -> Callable[[], RedisRequestPacer]:
    def factory() -> RedisRequestPacer:
        # Each pacer gets its own client and connection pool, as two worker processes would.
        return RedisRequestPacer(5, client=redis.Redis.from_url(REDIS_URL), prefix=redis_prefix)

    return factory


def test_redis_budget_is_shared_by_two_pacers(redis_pacers):
    first, second = redis_pacers(), redis_pacers()
    asked, delays = [], []
    for i in range(10):
        asked.append(time.monotonic())
        delays.append((first if i % 2 else second).reserve(BASE_CRM_ID)[1])
    assert all(d < 0.05 for d in delays[:5]), delays
    # From the sixth on, a request waits until a whole window after the first five began,
    # whichever process asks (counted from the first request, so a slow machine that takes
    # a while between the calls does not change the answer).
    waited_until = [a - asked[0] + d for a, d in zip(asked, delays, strict=True)]
    assert all(w >= first.window - 0.05 for w in waited_until[5:]), (delays, asked)
    assert first.reserve(BASE_PROJECTS_ID)[1] < 0.05


def test_redis_pacing_holds_five_per_second_across_processes(
    redis_pacers, airtable_emulator_factory
):
    emulator = airtable_emulator_factory(rate_limit=5, penalty_seconds=0.5)
    errors: list[BaseException] = []

    def worker() -> None:
        client = AirtableClient(TOKEN_FULL, api_url=emulator.url, limiter=redis_pacers())
        try:
            for _ in range(4):
                client.request("GET", BASE_CRM_ID, "Deals", params={"pageSize": 1})
        except BaseException as exc:  # handed to the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    stats = emulator.stats()
    assert stats["by_status"] == {"200": 8}
    assert max_in_any_second([r["t"] for r in stats["requests"]]) <= 5


def test_redis_outage_falls_back_to_pacing_in_process(caplog):
    dead = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    pacer = RedisRequestPacer(5, client=dead)
    started = time.monotonic()
    delays = [pacer.reserve("appX")[1] for _ in range(6)]
    assert time.monotonic() - started < 1.0
    assert delays[:5] == [0, 0, 0, 0, 0]
    assert delays[5] > 0  # still paced, by this process alone
    # Redis is skipped for a while after the first failure: one warning, not one per request.
    assert caplog.text.count("falls back") == 1
