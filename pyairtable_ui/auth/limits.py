"""Attempt limiters: lock a key out for a while after too many attempts.

One algorithm, two stores with the same interface:

- `InProcessAttemptLimiter`: a dict behind a lock, for a single process (the default).
- `RedisAttemptLimiter`: a Redis hash per key updated by one Lua script, so all
  replicas share the count and concurrent requests cannot slip past the limit.

A `LimitPolicy` says how many attempts a key may make within a window and how
long the lock lasts once it is over budget (growing exponentially, capped).
Sign-in uses two policies at once (`LoginLimiter`): one per account, which
locks, and one per client address, which only slows (many people can share an
address). Emails and registrations use plain rate limits (`MailLimiter`).
"""

# Not the `limits` library: it counts windows, with no lock or slow-down that grows per failure.

from __future__ import annotations

import functools
import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis

from pyairtable_ui.core.redis import redis_client
from pyairtable_ui.core.settings import get_settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "pyairtable_ui:limits:"

Clock = Callable[[], float]


@dataclass(frozen=True)
class RetryAfter:
    """The key is locked; try again after `seconds`.

    Attributes:
        seconds: Whole seconds until the lock ends (at least 1).
    """

    seconds: int

    @property
    def message(self) -> str:
        """What the user reads, e.g. "Too many attempts. Try again in 2 minutes."."""
        return f"Too many attempts. Try again in {format_wait(self.seconds)}."


def format_wait(seconds: float) -> str:
    """A wait in words, rounded up: "30 seconds", "1 minute", "15 minutes".

    Args:
        seconds: The wait.

    Returns:
        The wait in seconds below a minute, otherwise in whole minutes.
    """
    whole = max(1, math.ceil(seconds))
    if whole < 60:
        return f"{whole} second" + ("" if whole == 1 else "s")
    minutes = math.ceil(whole / 60)
    return f"{minutes} minute" + ("" if minutes == 1 else "s")


@dataclass(frozen=True)
class LimitPolicy:
    """How many attempts a key gets and how it is locked after that.

    Attributes:
        name: Part of the storage key, e.g. "login:account".
        allowed: Attempts within `window` before the key is locked.
        window: Seconds. The count starts again once the window has passed.
        lock: Seconds of the first lock once `allowed` is used up.
        max_lock: Seconds; the longest a lock may last.
        backoff: Each further attempt multiplies the lock by this (1 keeps it fixed).
        window_from_last: If True, the window runs from the latest attempt, or
            from the end of its lock (the count is forgotten only after a quiet
            window: right for failed sign-ins); if False, from the first attempt
            (a plain rate limit).
    """

    name: str
    allowed: int
    window: float
    lock: float
    max_lock: float
    backoff: float = 2.0
    window_from_last: bool = True

    @classmethod
    def rate_limit(cls, name: str, allowed: int, *, window: float) -> LimitPolicy:
        """A plain rate limit: `allowed` events per `window`, counted from the first.

        Once used up, the key waits for the rest of the window; there is no backoff.
        """
        return cls(
            name, allowed, window, lock=window, max_lock=window, backoff=1, window_from_last=False
        )

    def lock_seconds(self, count: int) -> float:
        """How long a key with `count` recorded attempts is locked (0: not locked)."""
        if count < self.allowed:
            return 0.0
        # Guard the exponent so a huge count cannot overflow before the cap applies.
        exponent = min(count - self.allowed, 64)
        return min(self.lock * self.backoff**exponent, self.max_lock)


# After 5 failures within 15 minutes: locked 30 s, then 60 s, 2 min ... up to 15 min.
LOGIN_ACCOUNT_POLICY = LimitPolicy(
    name="login:account", allowed=5, window=15 * 60, lock=30, max_lock=15 * 60
)
# Used as a delay, never a lock: a whole office (or every user behind a proxy)
# shares an address. From the 10th failure within 15 minutes each wrong guess
# is answered 1 s, 2 s, 4 s, then 5 s late; a right password is never delayed.
# The cap stays well under Reflex's 10 s Redis state lock.
LOGIN_ADDRESS_POLICY = LimitPolicy(
    name="login:address", allowed=10, window=15 * 60, lock=1, max_lock=5
)
# Plain rate limits (counted from the first event) on what sends email or
# creates accounts: a few mails an hour per address mailed, so nobody can flood
# a mailbox through us; a larger budget per client address, which can be a whole
# office onboarding together, so one client cannot mail hundreds of strangers.
MAIL_PER_EMAIL_POLICY = LimitPolicy.rate_limit("mail:email", 3, window=3600)
MAIL_PER_ADDRESS_POLICY = LimitPolicy.rate_limit("mail:address", 200, window=3600)
REGISTER_PER_ADDRESS_POLICY = LimitPolicy.rate_limit("register:address", 100, window=3600)
# Wrong current passwords on the settings page, per user: a stolen session must
# not be able to guess the password it does not know.
PASSWORD_CHANGE_POLICY = LimitPolicy(
    name="password_change:user", allowed=5, window=15 * 60, lock=15 * 60, max_lock=60 * 60
)


class AttemptLimiter(Protocol):
    """What both stores offer."""

    policy: LimitPolicy

    def check(self, key: str) -> RetryAfter | None:
        """None when `key` may try now, else how long it must wait."""
        ...

    def record_failure(self, key: str) -> RetryAfter | None:
        """Count one attempt against `key`; returns the lock it caused, if any."""
        ...

    def reset(self, key: str) -> None:
        """Forget `key`'s attempts (e.g. after a successful sign-in)."""
        ...


def _storage_key(policy: LimitPolicy, key: str) -> str:
    # Hashed so emails and addresses are not readable in Redis and any text is a safe key.
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"{KEY_PREFIX}{policy.name}:{digest}"


@dataclass
class _Entry:
    count: int
    window_start: float
    locked_until: float


class InProcessAttemptLimiter:
    """The limiter for one process: a dictionary guarded by a lock."""

    # Expired entries are swept once the table grows past this, bounding memory.
    _SWEEP_AT = 10_000

    def __init__(self, policy: LimitPolicy, *, clock: Clock = time.time) -> None:
        """Create an empty limiter.

        Args:
            policy: The limits to apply.
            clock: Seconds since the epoch (tests pass a fake one).
        """
        self.policy = policy
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> RetryAfter | None:
        """None when `key` may try now, else how long it must wait."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(_storage_key(self.policy, key))
            if entry is None or entry.locked_until <= now:
                return None
            return RetryAfter(max(1, math.ceil(entry.locked_until - now)))

    def record_failure(self, key: str) -> RetryAfter | None:
        """Count one attempt against `key`; returns the lock it caused, if any."""
        now = self._clock()
        storage_key = _storage_key(self.policy, key)
        with self._lock:
            entry = self._entries.get(storage_key)
            if entry is None or now - entry.window_start >= self.policy.window:
                # A new window forgets the count, not a lock that is still running.
                running_lock = entry.locked_until if entry is not None else 0.0
                entry = _Entry(count=0, window_start=now, locked_until=running_lock)
                self._entries[storage_key] = entry
            entry.count += 1
            lock = self.policy.lock_seconds(entry.count)
            if lock:
                entry.locked_until = now + lock
            if self.policy.window_from_last:
                # The quiet window starts once any lock is over, so waiting out a
                # long lock does not also wipe the count that set its length.
                entry.window_start = now + lock
            if len(self._entries) > self._SWEEP_AT:
                self._sweep(now)
        return RetryAfter(max(1, math.ceil(lock))) if lock else None

    def reset(self, key: str) -> None:
        """Forget `key`'s attempts (e.g. after a successful sign-in)."""
        with self._lock:
            self._entries.pop(_storage_key(self.policy, key), None)

    def _sweep(self, now: float) -> None:
        stale = [
            k
            for k, e in self._entries.items()
            if now - e.window_start >= self.policy.window and e.locked_until <= now
        ]
        for k in stale:
            del self._entries[k]


# KEYS[1]: the hash. ARGV: now, allowed, window, lock, max_lock, backoff, window_from_last.
# Returns the lock in milliseconds (0: not locked). Mirrors InProcessAttemptLimiter.
_RECORD_SCRIPT = """
local now = tonumber(ARGV[1])
local allowed = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local base_lock = tonumber(ARGV[4])
local max_lock = tonumber(ARGV[5])
local backoff = tonumber(ARGV[6])
local from_last = ARGV[7] == '1'
local values = redis.call('HMGET', KEYS[1], 'count', 'start')
local count = tonumber(values[1])
local start = tonumber(values[2])
if count == nil or start == nil or now - start >= window then
  count = 0
  start = now
end
count = count + 1
local lock = 0
if count >= allowed then
  local exponent = math.min(count - allowed, 64)
  lock = math.min(base_lock * backoff ^ exponent, max_lock)
  redis.call('HSET', KEYS[1], 'locked_until', tostring(now + lock))
end
if from_last then start = now + lock end
redis.call('HSET', KEYS[1], 'count', count, 'start', tostring(start))
redis.call('PEXPIRE', KEYS[1], math.ceil((window + math.max(lock, max_lock)) * 1000))
return math.ceil(lock * 1000)
"""


class RedisAttemptLimiter:
    """The limiter shared by every replica, stored in Redis.

    Each key is a hash (count, window start, lock end) that expires on its own
    once neither the window nor any lock can still matter. Recording runs as a
    Lua script, so read-increment-write is atomic across replicas.
    """

    def __init__(
        self,
        policy: LimitPolicy,
        *,
        client: redis.Redis,
        clock: Clock = time.time,
    ) -> None:
        """Create a limiter over an existing Redis client.

        Args:
            policy: The limits to apply.
            client: A Redis client (its errors propagate: a sign-in cannot be
                checked without the store, and silently skipping the limit would
                open the door to guessing).
            clock: Seconds since the epoch. The app's clock rather than Redis
                TIME, so tests can move time; replicas are NTP-synchronised.
        """
        self.policy = policy
        self._client = client
        self._clock = clock
        self._record = client.register_script(_RECORD_SCRIPT)

    def check(self, key: str) -> RetryAfter | None:
        """None when `key` may try now, else how long it must wait."""
        raw: Any = self._client.hget(_storage_key(self.policy, key), "locked_until")
        if raw is None:
            return None
        remaining = float(raw) - self._clock()
        if remaining <= 0:
            return None
        return RetryAfter(max(1, math.ceil(remaining)))

    def record_failure(self, key: str) -> RetryAfter | None:
        """Count one attempt against `key`; returns the lock it caused, if any."""
        p = self.policy
        lock_ms = int(
            self._record(
                keys=[_storage_key(p, key)],
                args=[
                    repr(self._clock()),
                    p.allowed,
                    repr(float(p.window)),
                    repr(float(p.lock)),
                    repr(float(p.max_lock)),
                    repr(float(p.backoff)),
                    "1" if p.window_from_last else "0",
                ],
            )
        )
        return RetryAfter(max(1, math.ceil(lock_ms / 1000))) if lock_ms else None

    def reset(self, key: str) -> None:
        """Forget `key`'s attempts (e.g. after a successful sign-in)."""
        self._client.delete(_storage_key(self.policy, key))


def make_attempt_limiter(
    policy: LimitPolicy, *, redis_url: str | None = None, clock: Clock = time.time
) -> AttemptLimiter:
    """A limiter in Redis when a URL is given, otherwise in this process.

    Args:
        policy: The limits to apply.
        redis_url: REDIS_URL, or None for the in-process store.
        clock: Seconds since the epoch (tests pass a fake one).

    Returns:
        The limiter.
    """
    if redis_url:
        return RedisAttemptLimiter(policy, client=redis_client(redis_url), clock=clock)
    return InProcessAttemptLimiter(policy, clock=clock)


@dataclass(frozen=True)
class FailedSignIn:
    """What a failed sign-in costs.

    Attributes:
        lock: The account's lock this failure caused, if any.
        delay: Seconds to hold the answer back (the address's slow-down; 0: none).
    """

    lock: RetryAfter | None
    delay: float


class LoginLimiter:
    """Sign-in limits per account (normalised email) and per client address.

    The handler calls `check` before verifying the password, then
    `record_failure` or `record_success`. An account's lock refuses even the
    right password for a while and touches no other account. An address is
    never locked, because one address can be a whole office or every user
    behind a reverse proxy: its recent failures only make each further *wrong*
    answer slower (`FailedSignIn.delay`). One guessing connection is slowed to
    one guess per delay; the per-account lock bounds guesses at each account.
    """

    def __init__(self, *, account: AttemptLimiter, address: AttemptLimiter) -> None:
        """Combine the two limiters.

        Args:
            account: Limiter keyed by normalised email (locks).
            address: Limiter keyed by client IP address (its lock length is used
                as a delay).
        """
        self.account = account
        self.address = address

    def check(self, *, email: str) -> RetryAfter | None:
        """None when this account may be tried now, else how long to wait.

        Args:
            email: The normalised email typed.

        Returns:
            None, or how long to wait (its `.message` is what to show).
        """
        wait = self.account.check(email)
        if wait is not None:
            logger.info("sign-in rate limited retry_after=%ss", wait.seconds)
        return wait

    def record_failure(self, *, email: str, address: str) -> FailedSignIn:
        """Count a failed sign-in against the account and the address.

        Args:
            email: The normalised email typed.
            address: The client's IP address.

        Returns:
            The account lock it caused, if any, and how long to hold the answer.
        """
        lock = self.account.record_failure(email)
        slow_down = self.address.record_failure(address)
        delay = float(slow_down.seconds) if slow_down is not None else 0.0
        if delay:
            logger.info("sign-in failures from one address delay=%ss address=%s", delay, address)
        return FailedSignIn(lock=lock, delay=delay)

    def record_success(self, *, email: str, address: str) -> None:
        """Clear the account's failures after a successful sign-in.

        The address count is kept on purpose: otherwise someone with one valid
        account could sign into it between guesses at other accounts to reset
        their address budget.
        """
        self.account.reset(email)


def make_login_limiter(*, redis_url: str | None, clock: Clock = time.time) -> LoginLimiter:
    """A login limiter on the chosen store (tests build their own with a fake clock).

    Args:
        redis_url: REDIS_URL, or None for the in-process store.
        clock: Seconds since the epoch.

    Returns:
        The limiter.
    """
    return LoginLimiter(
        account=make_attempt_limiter(LOGIN_ACCOUNT_POLICY, redis_url=redis_url, clock=clock),
        address=make_attempt_limiter(LOGIN_ADDRESS_POLICY, redis_url=redis_url, clock=clock),
    )


class MailLimiter:
    """Rate limits on sending account emails and creating accounts.

    Each `allow_*` call counts one event and says whether it may go ahead; the
    caller answers the same whatever it says (except for registrations over the
    address budget), so limits reveal nothing about which accounts exist.
    """

    def __init__(
        self,
        *,
        per_email: AttemptLimiter,
        per_address: AttemptLimiter,
        registrations: AttemptLimiter,
    ) -> None:
        """Combine the three limiters.

        Args:
            per_email: Mails to one (normalised) address.
            per_address: Mails asked for from one client address.
            registrations: Accounts created from one client address.
        """
        self.per_email = per_email
        self.per_address = per_address
        self.registrations = registrations

    def allow_mail(self, *, email: str, address: str) -> bool:
        """Whether an account email to `email`, asked for from `address`, may be sent now.

        Args:
            email: The normalised recipient.
            address: The client's IP address.

        Returns:
            True when both budgets allow it (the mail is then counted).
        """
        if self.per_email.check(email) is not None or self.per_address.check(address) is not None:
            logger.info("account email not sent: rate limited address=%s", address)
            return False
        self.per_email.record_failure(email)
        self.per_address.record_failure(address)
        return True

    def allow_registration(self, *, address: str) -> RetryAfter | None:
        """Count a registration from `address`; None when allowed, else how long to wait."""
        wait = self.registrations.check(address)
        if wait is not None:
            logger.info("registration rate limited address=%s", address)
            return wait
        self.registrations.record_failure(address)
        return None


def make_mail_limiter(*, redis_url: str | None, clock: Clock = time.time) -> MailLimiter:
    """A mail limiter on the chosen store.

    Args:
        redis_url: REDIS_URL, or None for the in-process store.
        clock: Seconds since the epoch.

    Returns:
        The limiter.
    """
    return MailLimiter(
        per_email=make_attempt_limiter(MAIL_PER_EMAIL_POLICY, redis_url=redis_url, clock=clock),
        per_address=make_attempt_limiter(MAIL_PER_ADDRESS_POLICY, redis_url=redis_url, clock=clock),
        registrations=make_attempt_limiter(
            REGISTER_PER_ADDRESS_POLICY, redis_url=redis_url, clock=clock
        ),
    )


@functools.cache
def get_mail_limiter() -> MailLimiter:
    """The process's mail limiter: in Redis when REDIS_URL is set, else in memory."""
    return make_mail_limiter(redis_url=get_settings().redis_url)


@functools.cache
def get_password_change_limiter() -> AttemptLimiter:
    """The process's limiter of wrong current passwords, keyed by user id."""
    return make_attempt_limiter(PASSWORD_CHANGE_POLICY, redis_url=get_settings().redis_url)


@functools.cache
def get_login_limiter() -> LoginLimiter:
    """The process's login limiter: in Redis when REDIS_URL is set, else in memory."""
    return make_login_limiter(redis_url=get_settings().redis_url)
