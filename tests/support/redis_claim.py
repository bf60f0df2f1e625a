"""Claims a Redis database of its own for one test run, so two runs on one machine
(two clones, or CI beside a developer) never share login limits, pacing or schema cache.

    python -m tests.support.redis_claim claim redis://127.0.0.1:6379   # prints a URL
    python -m tests.support.redis_claim release redis://127.0.0.1:6379/14

A claim is a key in database 0 that expires on its own, so a killed run frees its
database after a while; the claimed database is emptied before use.
"""

from __future__ import annotations

import os
import sys

import redis

CLAIM_KEY = "pyairtable-ui:test-run:db:{}"
CLAIM_SECONDS = 3 * 60 * 60  # longer than any run; CI stops at 90 minutes
# Redis ships 16 databases; 0 holds the claims and the unit tests' own prefixed keys.
CANDIDATES = range(15, 0, -1)


def _server(url: str) -> str:
    base, _, last = url.rstrip("/").rpartition("/")
    return base if last.isdigit() else url.rstrip("/")


def claim(url: str) -> str:
    """Claim a free database on the server at `url`, empty it, and return its URL."""
    server = _server(url)
    claims = redis.Redis.from_url(f"{server}/0", socket_connect_timeout=2, socket_timeout=5)
    owner = f"{os.getpid()}"
    for number in CANDIDATES:
        if claims.set(CLAIM_KEY.format(number), owner, nx=True, ex=CLAIM_SECONDS):
            redis.Redis.from_url(f"{server}/{number}").flushdb()
            return f"{server}/{number}"
    raise SystemExit("every Redis database on the test server is claimed by another run")


def release(url: str) -> None:
    """Give back the database of `url` (claimed by `claim`)."""
    server, _, number = url.rstrip("/").rpartition("/")
    claims = redis.Redis.from_url(f"{server}/0", socket_connect_timeout=2, socket_timeout=5)
    claims.delete(CLAIM_KEY.format(number))


def main(argv: list[str]) -> None:
    """Command line: `claim SERVER_URL` or `release DATABASE_URL`."""
    if len(argv) != 2 or argv[0] not in {"claim", "release"}:
        raise SystemExit(__doc__)
    if argv[0] == "claim":
        print(claim(argv[1]))
    else:
        release(argv[1])


if __name__ == "__main__":
    main(sys.argv[1:])
