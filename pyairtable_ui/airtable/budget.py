"""The instance's monthly Airtable request budget, enforced where every request passes.

Airtable's plans cap API calls per month (Free 1,000, Team 100,000...). An admin sets the
budget on /admin (`instance.service.set_airtable_budget`); this module reads it and the
month's count (`airtable_usage`, plus this process's counts not yet flushed), and
`check` refuses a new request once the month's count reached it. The client calls `check`
before each request it sends (`client.PacedSession.request`), so no page or tool has
its own copy of the rule.

The figures are read again at most every CACHE_SECONDS (a request must not cost a query);
at 80% the instance's admins get one email a month when SMTP is set.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import col, select

from pyairtable_ui import routes
from pyairtable_ui.airtable import usage
from pyairtable_ui.airtable.errors import AirtableError
from pyairtable_ui.airtable.models import AirtableUsage
from pyairtable_ui.auth.models import Role, User
from pyairtable_ui.core import mail
from pyairtable_ui.core.db import session_scope
from pyairtable_ui.core.instance_settings import (
    AIRTABLE_BUDGET_KEY,
    AIRTABLE_BUDGET_WARNED_KEY,
    read_setting,
    write_setting,
)
from pyairtable_ui.core.settings import get_settings

logger = logging.getLogger(__name__)

CACHE_SECONDS = 2.0
WARN_AT = 0.8


class AirtableBudgetError(AirtableError):
    """The instance used its monthly Airtable request budget: nothing is sent."""


@dataclass(frozen=True)
class BudgetStatus:
    """The month's Airtable requests against the budget.

    Attributes:
        month: "YYYY-MM" (UTC).
        used: Requests counted this month.
        budget: The monthly budget (None: none set).
    """

    month: str
    used: int
    budget: int | None

    @property
    def percent(self) -> int:
        """Share of the budget used, in whole percent (0 without a budget)."""
        return min(999, round(100 * self.used / self.budget)) if self.budget else 0

    @property
    def exhausted(self) -> bool:
        """The budget is used up: new requests are refused."""
        return self.budget is not None and self.used >= self.budget

    @property
    def warning(self) -> bool:
        """80% or more is used: admins are told."""
        return self.budget is not None and self.used >= WARN_AT * self.budget

    def summary(self) -> str:
        """ "1,234 of 100,000 requests (1%) in 2026-12", or the count alone without a budget."""
        if self.budget is None:
            return f"{self.used:,} requests in {self.month} (no budget set)"
        return f"{self.used:,} of {self.budget:,} requests ({self.percent}%) in {self.month}"


def month_of(now: datetime) -> str:
    """The UTC month "YYYY-MM" of a moment."""
    return now.astimezone(UTC).strftime("%Y-%m")


def _next_month_name(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return datetime(year, number, 1, tzinfo=UTC).strftime("1 %B %Y")


def read_status(now: datetime | None = None) -> BudgetStatus:
    """The budget and the month's count, from the database and this process's pending counts.

    Args:
        now: The current time (tests pass a fixed one).

    Returns:
        The month's figures.
    """
    month = month_of(now or datetime.now(UTC))
    with session_scope() as db:
        value = read_setting(db, AIRTABLE_BUDGET_KEY)
        used = db.exec(
            select(sa.func.coalesce(sa.func.sum(AirtableUsage.requests), 0)).where(
                col(AirtableUsage.day).startswith(f"{month}-")
            )
        ).one()
    budget = value.get("requests") if isinstance(value, dict) else None
    return BudgetStatus(
        month=month,
        used=int(used) + usage.pending_requests(month),
        budget=int(budget) if budget else None,
    )


def refusal(status: BudgetStatus) -> AirtableBudgetError:
    """The error a refused request raises: what happened, until when, and who can change it."""
    return AirtableBudgetError(
        f"This instance has used its Airtable budget for {status.month} "
        f"({status.used:,} of {status.budget or 0:,} requests), so nothing more is read "
        f"from or written to Airtable until {_next_month_name(status.month)}, or until an "
        "admin raises the budget on the Admin page.",
        "The instance's monthly Airtable request budget is used up: no Airtable request "
        "can be made now. Do not retry. Tell the user that the budget is used up until "
        "next month or until an admin raises it.",
        type="BUDGET_EXHAUSTED",
    )


_lock = threading.Lock()
# (when read, this process's count then, the figures read)
_cached: tuple[float, int, BudgetStatus] | None = None


def forget() -> None:
    """Read the budget afresh on the next check (an admin just changed it)."""
    global _cached
    with _lock:
        _cached = None


def current_status() -> BudgetStatus:
    """The month's figures, read again at most every CACHE_SECONDS, plus newer local counts."""
    global _cached
    now = time.monotonic()
    with _lock:
        cached = _cached
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        _, counted_then, base = cached
        return BudgetStatus(
            month=base.month, used=base.used + usage.counted() - counted_then, budget=base.budget
        )
    counted_then = usage.counted()
    status = read_status()
    with _lock:
        _cached = (now, counted_then, status)
    if status.warning:
        _warn_once(status)
    return status


def check() -> None:
    """Refuse a new Airtable request when the month's budget is used up.

    A failure to read the figures (database down) lets the request go: the budget
    guards spending, and the request itself will say what is wrong.

    Raises:
        AirtableBudgetError: The budget is used up.
    """
    try:
        status = current_status()
    except sa.exc.SQLAlchemyError:
        logger.warning("airtable budget unreadable; request allowed", exc_info=True)
        return
    if status.exhausted:
        logger.info("airtable request refused: budget used %s", status.summary())
        raise refusal(status)


def _warn_once(status: BudgetStatus) -> None:
    """Email the admins once a month when 80% is reached (only when SMTP is set)."""
    if not get_settings().smtp_configured:
        return
    with session_scope() as db:
        if read_setting(db, AIRTABLE_BUDGET_WARNED_KEY) == status.month:
            return
        write_setting(db, AIRTABLE_BUDGET_WARNED_KEY, status.month, by=None)
        admins = list(
            db.exec(
                select(User.email).where(
                    User.role == Role.ADMIN.value, col(User.is_active).is_(True)
                )
            ).all()
        )
    text = mail.budget_warning_email(
        used=status.used,
        budget=status.budget or 0,
        month=status.month,
        admin_link=f"{get_settings().base_url}{routes.ADMIN}",
    )
    # In a thread: the request that noticed must not wait for the mail server.
    threading.Thread(target=_send_all, args=(admins, text), daemon=True).start()


def _send_all(admins: list[str], text: mail.EmailText) -> None:
    for email in admins:
        try:
            mail.send_email(to=email, subject=text.subject, text=text.text)
        except mail.EmailDeliveryError:
            logger.warning("budget warning not delivered to an admin", exc_info=True)
