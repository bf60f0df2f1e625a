"""The app's Redis clients, one per URL per process, for every feature that uses Redis."""

from __future__ import annotations

import functools

import redis


@functools.cache
def redis_client(url: str) -> redis.Redis:
    """One Redis client (with its connection pool) per URL per process.

    Args:
        url: A redis:// or rediss:// URL.

    Returns:
        The client; it connects lazily on first use.
    """
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
