"""What the analytics page awaits: the period's figures per day, tool, user and base, and
the per-user and per-base tables as CSV.

Every flow checks on its own that the caller is an active admin. Blocking (database):
call through a thread from handlers. No Reflex.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, cast

from sqlmodel import Session

from pyairtable_ui.airtable import budget as airtable_budget
from pyairtable_ui.airtable import usage
from pyairtable_ui.airtable.limiter import META_KEY
from pyairtable_ui.analytics import queries
from pyairtable_ui.auth.errors import PermissionDeniedError
from pyairtable_ui.auth.models import User
from pyairtable_ui.auth.service import require_admin
from pyairtable_ui.chat.service import month_spend
from pyairtable_ui.core.db import session_scope, utcnow
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.instance.service import get_llm_budget

PERIODS = (7, 30, 90)


class UnknownPeriodError(UserFacingError):
    """A period the page does not offer."""

    default_message = "Pick a period of 7, 30 or 90 days."


class DayRow(TypedDict):
    """One day of the charts (zeros on a day without activity)."""

    day: str
    active_users: int
    conversations: int
    messages: int
    tool_calls: int
    airtable_requests: int
    rate_limited: int  # Airtable answered 429
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    turns: int
    failed_turns: int
    actions: int
    failed_actions: int
    error_rate: float  # percent of turns and actions that failed
    p50_ms: int
    p95_ms: int
    approved: int
    rejected: int
    undone: int


class ToolRow(TypedDict):
    """A tool's calls over the period."""

    tool: str
    calls: int
    failed: int


class TotalsRow(TypedDict):
    """One user's or base's figures over the period, as the tables and the CSV show them."""

    key: str  # the user's email or the base id
    conversations: int
    messages: int
    tool_calls: int
    airtable_requests: int
    rate_limited: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    turns: int
    failed_turns: int
    actions: int
    approved: int
    rejected: int
    undone: int
    failed_actions: int


# The CSV's columns, in the tables' order.
TOTALS_COLUMNS = [name for name in TotalsRow.__annotations__ if name != "key"]


@dataclass(frozen=True)
class AnalyticsView:
    """What the page shows for one period.

    Attributes:
        days: One row per day of the period, oldest first.
        tools: Tool calls per tool, most used first.
        users: Per user, by email.
        bases: Per base, by id.
    """

    days: list[DayRow]
    tools: list[ToolRow]
    users: list[TotalsRow]
    bases: list[TotalsRow]


def _require_admin(db: Session, admin_id: int) -> None:
    require_admin(db.get(User, admin_id))


def _int(row: dict[str, Any], name: str) -> int:
    return int(row.get(name) or 0)


def _rate(failed: int, total: int) -> float:
    return round(100.0 * failed / total, 1) if total else 0.0


# The counts a day's row and a user's or base's row both carry, under the same names.
_COUNTS = (
    "conversations",
    "messages",
    "tool_calls",
    "airtable_requests",
    "rate_limited",
    "prompt_tokens",
    "completion_tokens",
    "turns",
    "failed_turns",
    "actions",
    "approved",
    "rejected",
    "undone",
    "failed_actions",
)


def _counts(row: dict[str, Any]) -> dict[str, Any]:
    """The shared counts of one query row, zero where the row has none."""
    counts: dict[str, Any] = {name: _int(row, name) for name in _COUNTS}
    counts["cost_usd"] = round(float(row.get("cost_usd") or 0.0), 4)
    return counts


def _day_row(day: str, *parts: dict[str, Any]) -> DayRow:
    """One day's row from the day's figures of each query (they share no names)."""
    merged = {name: value for part in parts for name, value in part.items()}
    counts = _counts(merged)
    return cast(
        DayRow,
        {
            **counts,
            "day": day,
            "active_users": _int(merged, "active_users"),
            "error_rate": _rate(
                counts["failed_turns"] + counts["failed_actions"],
                counts["turns"] + counts["actions"],
            ),
            "p50_ms": _int(merged, "p50_ms"),
            "p95_ms": _int(merged, "p95_ms"),
        },
    )


def _base_label(base_id: str) -> str:
    if base_id == META_KEY:
        return "(account-wide)"  # listing bases, whoami: no base of its own
    return base_id or "(no base)"


def _totals_row(key: str, row: dict[str, Any]) -> TotalsRow:
    return cast(TotalsRow, {"key": key, **_counts(row)})


def compute(db: Session, days: int, now: datetime | None = None) -> AnalyticsView:
    """The page's figures for the last `days` days (no permission check: callers do it).

    Args:
        db: The database session.
        days: 7, 30 or 90.
        now: The current time (tests and the benchmark pass a fixed one).

    Returns:
        The figures.

    Raises:
        UnknownPeriodError: Not one of `PERIODS`.
    """
    if days not in PERIODS:
        raise UnknownPeriodError()
    span = queries.period(days, now or utcnow())
    connection = db.connection()
    used = queries.message_days(connection, span)
    turn_figures = queries.turn_figures(connection, span)
    turns = turn_figures.days
    acted = queries.action_days(connection, span)
    requested = queries.airtable_days(connection, span)
    owners = queries.owner_totals(connection, span, turn_figures)
    return AnalyticsView(
        days=[
            _day_row(
                day,
                used.get(day, {}),
                turns.get(day, {}),
                acted.get(day, {}),
                requested.get(day, {}),
            )
            for day in span.days
        ],
        tools=[
            ToolRow(
                tool=row["tool"] or "(unknown)",
                calls=_int(row, "calls"),
                failed=_int(row, "failed"),
            )
            for row in queries.tool_totals(connection, span)
        ],
        users=[
            _totals_row(row["email"], row) for row in queries.user_totals(connection, span, owners)
        ],
        bases=[
            _totals_row(_base_label(row["base_id"]), row) for row in queries.base_totals(owners)
        ],
    )


def analytics_view(*, admin_id: int, days: int) -> AnalyticsView:
    """The figures for the last `days` days, for an admin.

    Args:
        admin_id: The signed-in user; must be an active admin.
        days: 7, 30 or 90.

    Returns:
        The page's contents.

    Raises:
        PermissionDeniedError: Not an active admin.
        UnknownPeriodError: Not one of `PERIODS`.
    """
    with session_scope() as db:
        _require_admin(db, admin_id)
    usage.flush()  # this process's latest Airtable counts (other processes flush on a timer)
    with session_scope() as db:
        return compute(db, days)


def totals_csv(*, admin_id: int, days: int, by: str) -> str:
    """The per-user ("user") or per-base ("base") table of the period as CSV text.

    Args:
        admin_id: The signed-in user; must be an active admin.
        days: 7, 30 or 90.
        by: "user" or "base".

    Returns:
        A header row and one row per user or base.

    Raises:
        PermissionDeniedError: Not an active admin.
        UnknownPeriodError: Not one of `PERIODS`.
        ValueError: `by` is neither.
    """
    if by not in ("user", "base"):
        raise ValueError(f"unknown table {by!r}")
    view = analytics_view(admin_id=admin_id, days=days)
    rows = view.users if by == "user" else view.bases
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email" if by == "user" else "base_id", *TOTALS_COLUMNS])
    for row in rows:
        # Spreadsheet apps run a cell starting with = + - @ as a formula: quote it away.
        key = "'" + row["key"] if row["key"][:1] in ("=", "+", "-", "@") else row["key"]
        writer.writerow([key, *(row[name] for name in TOTALS_COLUMNS)])  # type: ignore[literal-required]
    return out.getvalue()


# --- budgets: the month's use against them --------------------------------------------------


@dataclass(frozen=True)
class BudgetView:
    """The month's use against the budgets, as one user (or an admin) may see it.

    Attributes:
        airtable: "1,234 of 100,000 requests (1%) in 2026-12" (the whole instance's).
        airtable_percent: Share of the Airtable budget used (0 without a budget).
        airtable_warning: 80% or more is used ("" below), in words for the admins' banner.
        llm_mine: The user's LLM spend this month, with their limit when there is one.
        llm_instance: The instance's LLM spend this month and its limit (admins only, else "").
    """

    airtable: str
    airtable_percent: int
    airtable_warning: str
    llm_mine: str
    llm_instance: str


def _spend_text(spent: float, limit: float | None) -> str:
    if limit is None:
        return f"${spent:,.2f} this month (no limit set)"
    return f"${spent:,.2f} of ${limit:,.2f} this month ({round(100 * spent / limit)}%)"


def budget_view(*, user_id: int) -> BudgetView:
    """The month's Airtable requests and LLM spend against the budgets.

    Everyone sees the instance's Airtable figure (their questions stop with it) and their
    own LLM spend; admins also see the instance's LLM spend and the 80% warning.

    Args:
        user_id: The signed-in user.

    Returns:
        The figures in words.
    """
    usage.flush()
    status = airtable_budget.read_status()
    with session_scope() as db:
        try:
            require_admin(db.get(User, user_id))
            is_admin = True
        except PermissionDeniedError:
            is_admin = False  # a member: their own figures only
        limits = get_llm_budget(session=db)
        mine = month_spend(session=db, user_id=user_id)
        everyone = month_spend(session=db, user_id=None) if is_admin else 0.0
    warning = ""
    if is_admin and status.warning:
        warning = f"Airtable requests this month: {status.summary()}. " + (
            "New Airtable reads and writes are refused until the month turns or the "
            "budget is raised."
            if status.exhausted
            else "At 100% new Airtable reads and writes are refused."
        )
    return BudgetView(
        airtable=status.summary(),
        airtable_percent=status.percent,
        airtable_warning=warning,
        llm_mine=_spend_text(mine, limits.per_user_usd),
        llm_instance=_spend_text(everyone, limits.instance_usd) if is_admin else "",
    )
