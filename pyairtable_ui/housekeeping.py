"""Housekeeping the app does at start-up and then on a timer, in every replica.

- Sessions and one-time tokens that ended long ago are deleted.
- Chat messages a stopped process left "streaming" or "running" are closed as failed,
  so the conversation says the app stopped instead of spinning for ever.

Both jobs are idempotent, so replicas running them at once do no harm. Imports no
Reflex: the app's lifespan task is a thin loop around `run_housekeeping`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from pyairtable_ui.auth import sessions
from pyairtable_ui.chat import service as chat_service
from pyairtable_ui.core.db import session_scope
from pyairtable_ui.core.settings import Settings, get_settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HousekeepingResult:
    """What one round of housekeeping removed or closed."""

    purged_rows: int
    closed_messages: int


def longest_turn(settings: Settings) -> timedelta:
    """How long a turn can possibly run: every model call timing out, plus a margin.

    A message younger than this may belong to a turn running in another replica now.
    """
    return timedelta(seconds=settings.llm_timeout_seconds * (settings.llm_max_steps + 1) + 60)


def run_housekeeping(
    *, at_start: bool = False, now: datetime | None = None, settings: Settings | None = None
) -> HousekeepingResult:
    """Purge ended sessions and tokens; close chat messages left unfinished.

    Args:
        at_start: This process has just started. Without Redis it is the only process
            (Reflex keeps state in memory), so every unfinished message is abandoned.
        now: The current time (tests pass a fixed one).
        settings: The instance settings; read from the environment by default.

    Returns:
        How many rows were purged and how many messages were closed.
    """
    settings = settings or get_settings()
    alone = at_start and not settings.redis_url
    older_than = timedelta(0) if alone else longest_turn(settings)
    with session_scope() as db:
        purged = sessions.purge_expired(session=db, now=now)
    with session_scope() as db:
        closed = chat_service.close_interrupted_messages(session=db, older_than=older_than, now=now)
    return HousekeepingResult(purged_rows=purged, closed_messages=closed)


async def keep_house(interval_seconds: float | None = None) -> None:
    """Run housekeeping now, then every `interval_seconds`, until cancelled.

    A failed round (the database briefly unreachable, say) is logged and retried at
    the next tick rather than ending the loop.

    Args:
        interval_seconds: Seconds between rounds; HOUSEKEEPING_INTERVAL_SECONDS by default.
    """
    interval = interval_seconds or get_settings().housekeeping_interval_seconds
    at_start = True
    while True:
        try:
            result = await asyncio.to_thread(run_housekeeping, at_start=at_start)
            at_start = False
            if result.purged_rows or result.closed_messages:
                logger.info(
                    "housekeeping purged %d ended session(s) and link(s), closed %d "
                    "unfinished answer(s)",
                    result.purged_rows,
                    result.closed_messages,
                )
        except Exception:
            logger.exception("housekeeping failed; trying again in %s s", interval)
        await asyncio.sleep(interval)
