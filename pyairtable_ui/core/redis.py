"""The app's Redis clients, one per URL per process, for every feature that uses Redis.

Besides the clients: a channel on which one process tells the others something at once
(`publish`, `Listener`), e.g. the chat's Stop reaching the process that runs the turn.
Redis channels are shared by the whole server, whatever the database: each channel name
carries the URL's database number, so two instances on one server (or two test runs)
never hear each other.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import cast

import redis

logger = logging.getLogger(__name__)

# How long the listener waits for a message before checking whether it should end, and
# after a lost connection before it subscribes again.
_POLL_SECONDS = 0.5
_RECONNECT_SECONDS = 1.0


@functools.cache
def redis_client(url: str) -> redis.Redis:
    """One Redis client (with its connection pool) per URL per process.

    Args:
        url: A redis:// or rediss:// URL.

    Returns:
        The client; it connects lazily on first use.
    """
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def channel_name(url: str, name: str) -> str:
    """The channel `name` for the instance using the database of `url`."""
    database = redis_client(url).connection_pool.connection_kwargs.get("db", 0)
    return f"pyairtable_ui:{database}:{name}"


def publish(url: str, name: str, message: str) -> int:
    """Send `message` to every process listening on channel `name` now.

    Args:
        url: The Redis URL (REDIS_URL).
        name: The channel, as the listeners name it.
        message: The text to send.

    Returns:
        How many listeners received it.

    Raises:
        redis.RedisError: Redis did not answer.
    """
    received = redis_client(url).publish(channel_name(url, name), message)
    return int(cast(int, received))  # the sync client's answer (its types cover both)


class Listener:
    """A daemon thread that calls `on_message` with each message sent on a channel.

    A lost connection is retried every second (messages sent meanwhile are lost, as
    Redis pub/sub does not keep them): callers keep a slower path for that case.
    `on_message` runs on the listener's thread; it must hand work to its event loop
    with `loop.call_soon_threadsafe`.
    """

    def __init__(self, url: str, name: str, on_message: Callable[[str], None]) -> None:
        self._url = url
        self._channel = channel_name(url, name)
        self._on_message = on_message
        self._closed = threading.Event()
        self.subscribed = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"redis-listener {self._channel}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """End the thread (within about half a second)."""
        self._closed.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                self._listen()
            except redis.RedisError as exc:
                self.subscribed.clear()
                logger.warning(
                    "Redis channel %s lost (%s: %s); subscribing again",
                    self._channel,
                    type(exc).__name__,
                    exc,
                )
                self._closed.wait(_RECONNECT_SECONDS)

    def _listen(self) -> None:
        pubsub = redis_client(self._url).pubsub()
        try:
            pubsub.subscribe(self._channel)
            while not self._closed.is_set():
                message = pubsub.get_message(timeout=_POLL_SECONDS)
                if message is None:
                    continue
                if message.get("type") == "subscribe":
                    self.subscribed.set()  # Redis confirmed: from now on nothing is missed
                if message.get("type") != "message":
                    continue
                data = message["data"]
                text = data.decode() if isinstance(data, bytes) else str(data)
                try:
                    self._on_message(text)
                except Exception:
                    logger.exception("handling a message on %s failed", self._channel)
        finally:
            pubsub.close()
