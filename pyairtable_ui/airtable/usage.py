"""Per-user, per-base daily counts of Airtable requests, kept durably for the analytics page.

`count` is called by the client for every request it sends (`AirtableClient._record`)
and only adds to an in-memory counter; the counts reach the `airtable_usage` table in
one upsert per (day, user, base) when `flush` runs: FLUSH_AFTER_SECONDS after the first
pending count (a timer thread), when FLUSH_AFTER_REQUESTS are pending, at exit, and when
the analytics page asks. A process that dies in between loses at most those seconds of
counts: this is a usage figure, not the audit log (which is the actions' steps).
"""

from __future__ import annotations

import atexit
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from pyairtable_ui.airtable.models import AirtableUsage
from pyairtable_ui.core.db import session_scope

logger = logging.getLogger(__name__)

FLUSH_AFTER_SECONDS = 10.0
FLUSH_AFTER_REQUESTS = 200

# (day, user_id, base_id) -> [requests, rate_limited]
_pending: dict[tuple[str, int, str], list[int]] = {}
_lock = threading.Lock()
_timer: threading.Timer | None = None
# Every request this process counted since it started (for the budget's fresh figure).
_counted = 0


def count(user_id: int, base_id: str, status: int, *, now: datetime | None = None) -> None:
    """Count one request of `user_id` to `base_id` (its HTTP status, 0 when unanswered)."""
    global _timer, _counted
    day = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d")
    with _lock:
        _counted += 1
        figures = _pending.setdefault((day, user_id, base_id[:32]), [0, 0])
        figures[0] += 1
        figures[1] += 1 if status == 429 else 0
        pending = sum(requests for requests, _ in _pending.values())
        if _timer is None and pending < FLUSH_AFTER_REQUESTS:
            _timer = threading.Timer(FLUSH_AFTER_SECONDS, flush)
            _timer.daemon = True
            _timer.start()
    if pending >= FLUSH_AFTER_REQUESTS:
        flush()


def counted() -> int:
    """How many requests this process has counted since it started."""
    with _lock:
        return _counted


def pending_requests(month: str) -> int:
    """Requests of `month` ("YYYY-MM") counted here but not yet in `airtable_usage`."""
    with _lock:
        return sum(n for (day, _, _), (n, _) in _pending.items() if day.startswith(f"{month}-"))


def _upsert(dialect: str) -> Any:
    # Both databases add to an existing row with INSERT ... ON CONFLICT DO UPDATE; the
    # statement is built by each dialect's own `insert`, so a switch, same SQL.
    table = AirtableUsage.__table__  # type: ignore[attr-defined]
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    return insert.on_conflict_do_update(
        index_elements=["day", "user_id", "base_id"],
        set_={
            "requests": table.c.requests + insert.excluded.requests,
            "rate_limited": table.c.rate_limited + insert.excluded.rate_limited,
        },
    )


def flush() -> int:
    """Add the pending counts to `airtable_usage` in one transaction; returns rows written.

    A failure (database down, the user deleted meanwhile) is logged and those counts
    are dropped: counting must never break a turn or an action.
    """
    global _timer
    with _lock:
        batch = dict(_pending)
        _pending.clear()
        if _timer is not None:
            _timer.cancel()
            _timer = None
    if not batch:
        return 0
    rows = [
        {"day": day, "user_id": user_id, "base_id": base_id, "requests": n, "rate_limited": r}
        for (day, user_id, base_id), (n, r) in batch.items()
    ]
    try:
        with session_scope() as db:
            connection = db.connection()
            connection.execute(_upsert(connection.dialect.name), rows)
    except Exception:  # any failure: counting must not break the request that counted
        logger.warning("airtable usage counts not saved rows=%d", len(rows), exc_info=True)
        return 0
    return len(rows)


atexit.register(flush)
