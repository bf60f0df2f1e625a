"""Sign-in rate limits, on the in-process store and on Redis (when 127.0.0.1:6379 answers)."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterator

import pytest
import redis

from pyairtable_ui.auth import limits
from pyairtable_ui.auth.limits import (
    LOGIN_ACCOUNT_POLICY,
    LOGIN_ADDRESS_POLICY,
    AttemptLimiter,
    FailedSignIn,
    InProcessAttemptLimiter,
    LimitPolicy,
    LoginLimiter,
    RedisAttemptLimiter,
    RetryAfter,
    format_wait,
)
from pyairtable_ui.core.settings import get_settings
from tests.unit.auth.threads import run_together
from tests.unit.conftest import REDIS_URL


class FakeClock:
    """Seconds since the epoch that only move when the test says so."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


MakeLimiter = Callable[[LimitPolicy], AttemptLimiter]


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
def make_limiter(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[MakeLimiter]:
    """Build limiters on one store; Redis keys get a per-test name and are deleted after."""
    tag = f"test-{secrets.token_hex(4)}"
    client: redis.Redis | None = None
    if request.param == "redis":
        client = request.getfixturevalue("redis_server")

    def make(policy: LimitPolicy) -> AttemptLimiter:
        if client is None:
            return InProcessAttemptLimiter(policy, clock=clock)
        return RedisAttemptLimiter(
            dataclasses.replace(policy, name=f"{tag}:{policy.name}"), client=client, clock=clock
        )

    yield make
    if client is not None:
        for key in client.scan_iter(match=f"{limits.KEY_PREFIX}{tag}:*"):
            client.delete(key)


@pytest.fixture
def login(make_limiter: MakeLimiter) -> LoginLimiter:
    return LoginLimiter(
        account=make_limiter(LOGIN_ACCOUNT_POLICY), address=make_limiter(LOGIN_ADDRESS_POLICY)
    )


def attempt(limiter: LoginLimiter, email: str, address: str) -> FailedSignIn | RetryAfter:
    """What the sign-in flow does with a wrong password: check, then count the failure."""
    wait = limiter.check(email=email)
    if wait is not None:
        return wait
    return limiter.record_failure(email=email, address=address)


def test_twenty_wrong_passwords_lock_the_account_but_not_another(login: LoginLimiter):
    outcomes = [attempt(login, "ana@example.com", "198.51.100.1") for _ in range(20)]

    assert all(isinstance(o, FailedSignIn) for o in outcomes[:5])  # five tries go through
    assert all(isinstance(o, RetryAfter) for o in outcomes[5:])
    locked = login.check(email="ana@example.com")
    assert locked == RetryAfter(30)
    assert locked.message == "Too many attempts. Try again in 30 seconds."
    # Same address, other account: still allowed.
    assert login.check(email="ben@example.com") is None


def test_lock_doubles_with_each_further_failure_up_to_15_minutes(
    login: LoginLimiter, clock: FakeClock
):
    for _ in range(4):
        assert login.record_failure(email="ana@example.com", address="a").lock is None
    waits = []
    for _ in range(8):
        wait = login.record_failure(email="ana@example.com", address="a").lock
        assert wait is not None
        waits.append(wait.seconds)
        clock.advance(wait.seconds)  # wait out the lock, then fail again
        assert login.check(email="ana@example.com") is None
    assert waits == [30, 60, 120, 240, 480, 900, 900, 900]
    assert RetryAfter(900).message == "Too many attempts. Try again in 15 minutes."


def test_lock_ends_when_its_time_is_up(login: LoginLimiter, clock: FakeClock):
    for _ in range(5):
        login.record_failure(email="ana@example.com", address="a")
    clock.advance(29)
    assert login.check(email="ana@example.com") == RetryAfter(1)
    clock.advance(1)
    assert login.check(email="ana@example.com") is None


def test_failures_are_forgotten_after_a_quiet_quarter_hour(login: LoginLimiter, clock: FakeClock):
    for _ in range(4):
        login.record_failure(email="ana@example.com", address="a")
    clock.advance(15 * 60)
    for _ in range(4):
        assert login.record_failure(email="ana@example.com", address="a").lock is None
    assert login.check(email="ana@example.com") is None


def test_success_resets_the_account_but_not_the_address(login: LoginLimiter):
    for _ in range(4):
        login.record_failure(email="ana@example.com", address="203.0.113.9")
    login.record_success(email="ana@example.com", address="203.0.113.9")
    for _ in range(4):
        assert login.record_failure(email="ana@example.com", address="203.0.113.9").lock is None
    assert login.check(email="ana@example.com") is None
    # 8 failures still count against the address: the 10th is answered late.
    assert login.record_failure(email="ben@example.com", address="203.0.113.9").delay == 0
    assert login.record_failure(email="cy@example.com", address="203.0.113.9").delay == 1


def test_one_address_is_slowed_progressively_but_never_locked(
    login: LoginLimiter, clock: FakeClock
):
    delays = []
    for i in range(40):
        outcome = attempt(login, f"user{i}@example.com", "192.0.2.50")
        assert isinstance(outcome, FailedSignIn)
        assert outcome.lock is None
        delays.append(outcome.delay)
    # Nine free failures (typos in an office), then 1 s, 2 s, 4 s, capped at 5 s.
    assert delays[:9] == [0] * 9
    assert delays[9:14] == [1, 2, 4, 5, 5]
    assert set(delays[14:]) == {5}
    # Every account can still be tried from that address, and from another.
    assert login.check(email="someone@example.com") is None
    assert login.record_failure(email="x@example.com", address="192.0.2.51").delay == 0
    # A quiet quarter hour forgets the address's failures.
    clock.advance(15 * 60 + 5)
    assert login.record_failure(email="y@example.com", address="192.0.2.50").delay == 0


def test_concurrent_failures_are_all_counted(make_limiter: MakeLimiter):
    limiter = make_limiter(
        LimitPolicy(name="race", allowed=10, window=60, lock=60, max_lock=60, backoff=1)
    )
    run_together(limiter.record_failure, [("ana@example.com",)] * 9)
    assert limiter.check("ana@example.com") is None
    run_together(limiter.record_failure, [("ana@example.com",)])
    assert limiter.check("ana@example.com") == RetryAfter(60)


def test_plain_rate_limit_counts_from_the_first_event(make_limiter: MakeLimiter, clock: FakeClock):
    # The shape a "messages per minute" limit would use: fixed window, fixed lock.
    limiter = make_limiter(LimitPolicy.rate_limit("chat", 3, window=60))
    for _ in range(2):
        limiter.record_failure("user:1")
        clock.advance(25)
    clock.advance(10)  # 60 s after the first event: a new window
    assert limiter.record_failure("user:1") is None
    assert limiter.check("user:1") is None


@pytest.mark.redis
def test_redis_keys_are_prefixed_hashed_and_expire(redis_server: redis.Redis, clock: FakeClock):
    policy = dataclasses.replace(LOGIN_ACCOUNT_POLICY, name=f"test-{secrets.token_hex(4)}")
    limiter = RedisAttemptLimiter(policy, client=redis_server, clock=clock)
    limiter.record_failure("ana@example.com")
    keys = [
        key.decode()
        for key in redis_server.scan_iter(match=f"pyairtable_ui:limits:{policy.name}:*")
    ]
    try:
        assert len(keys) == 1
        assert "ana" not in keys[0]
        ttl = int(redis_server.ttl(keys[0]))  # type: ignore[arg-type]
        assert 0 < ttl <= 30 * 60
        limiter.reset("ana@example.com")
        assert not redis_server.exists(keys[0])
    finally:
        for key in keys:
            redis_server.delete(key)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1 second"),
        (30, "30 seconds"),
        (59.2, "1 minute"),
        (60, "1 minute"),
        (61, "2 minutes"),
        (900, "15 minutes"),
    ],
)
def test_waits_read_naturally(seconds: float, words: str):
    assert format_wait(seconds) == words


def test_store_follows_redis_url(monkeypatch: pytest.MonkeyPatch):
    limits.get_login_limiter.cache_clear()
    try:
        assert isinstance(limits.get_login_limiter().account, InProcessAttemptLimiter)
        monkeypatch.setenv("REDIS_URL", REDIS_URL)
        get_settings.cache_clear()
        limits.get_login_limiter.cache_clear()
        limiter = limits.get_login_limiter()
        assert isinstance(limiter.account, RedisAttemptLimiter)
        assert isinstance(limiter.address, RedisAttemptLimiter)
    finally:
        limits.get_login_limiter.cache_clear()
