"""The analytics page's figures, as SQL aggregates grouped by day, user, base and tool.

Every figure is computed by the database (GROUP BY, window functions) over an indexed
time range (`ix_messages_created_at`, `ix_actions_created_at`, and `airtable_usage`'s
key, which starts with the day): no query here loads the period's rows into Python,
only one row per day, tool, or user and base. The same
statements run on SQLite and PostgreSQL; the one difference, how a timestamp becomes
its UTC day, is `day_of`. No Reflex.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from pyairtable_ui.actions.models import Action, ActionStatus
from pyairtable_ui.airtable.models import AirtableUsage
from pyairtable_ui.auth.models import User
from pyairtable_ui.chat.models import Conversation, Message, MessageRole, MessageStatus

messages = Message.__table__  # type: ignore[attr-defined]
conversations = Conversation.__table__  # type: ignore[attr-defined]
actions = Action.__table__  # type: ignore[attr-defined]
usage = AirtableUsage.__table__  # type: ignore[attr-defined]
users = User.__table__  # type: ignore[attr-defined]

# Actions that ended without their change standing: the error rate's numerator.
FAILED_ACTION_STATUSES = (ActionStatus.FAILED.value, ActionStatus.ROLLED_BACK.value)


@dataclass(frozen=True)
class Period:
    """The last `days` UTC days, today included.

    Attributes:
        start: Midnight UTC of the first day (inclusive).
        end: Midnight UTC after today (exclusive).
        days: Every day of the period, "YYYY-MM-DD", oldest first.
    """

    start: datetime
    end: datetime
    days: list[str]


def period(days: int, now: datetime) -> Period:
    """The period of `days` days ending today (UTC)."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days - 1)
    return Period(
        start=start,
        end=today + timedelta(days=1),
        days=[(start + timedelta(days=n)).strftime("%Y-%m-%d") for n in range(days)],
    )


def day_of(column: Any, dialect: str) -> ColumnElement[str]:
    """The UTC day of a timestamp column as "YYYY-MM-DD", the same text on both databases.

    A dialect switch because no one SQL function does this on both: SQLite stores our
    timestamps as UTC text, which its `date()` cuts to the day; PostgreSQL keeps
    timestamptz, whose `date()`/`date_trunc` would follow the session's time zone, so
    the value is first moved to UTC and then formatted.
    """
    if dialect == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD")
    return sa.func.date(column)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    # SUM over CASE counts matching rows the same way on both databases (no FILTER).
    return sa.case((condition, 1), else_=0)


def _in_period(column: Any, span: Period) -> ColumnElement[bool]:
    return sa.and_(column >= span.start, column < span.end)


def message_days(db: Connection, span: Period) -> dict[str, dict[str, Any]]:
    """Per day: active users, conversations, messages, tool calls, tokens and cost.

    Messages are the user's and the model's rows; tool rows are counted as tool calls.
    Active users wrote at least one message that day.
    """
    day = day_of(messages.c.created_at, db.dialect.name)
    role = messages.c.role
    statement = (
        sa.select(
            day.label("day"),
            sa.func.count(
                sa.distinct(sa.case((role == MessageRole.USER.value, conversations.c.user_id)))
            ).label("active_users"),
            sa.func.count(sa.distinct(messages.c.conversation_id)).label("conversations"),
            sa.func.sum(
                _flag(role.in_([MessageRole.USER.value, MessageRole.ASSISTANT.value]))
            ).label("messages"),
            sa.func.sum(_flag(role == MessageRole.TOOL.value)).label("tool_calls"),
            sa.func.sum(messages.c.prompt_tokens).label("prompt_tokens"),
            sa.func.sum(messages.c.completion_tokens).label("completion_tokens"),
            sa.func.sum(sa.func.coalesce(messages.c.cost_usd, 0.0)).label("cost_usd"),
        )
        .select_from(messages.join(conversations))
        .where(_in_period(messages.c.created_at, span))
        .group_by(day)
    )
    return {row.day: dict(row._mapping) for row in db.execute(statement)}


def _turns(db: Connection, span: Period) -> sa.Subquery:
    """One row per turn of the period: its conversation, day, latency, whether it failed.

    A turn is a user message and the rows after it up to the next one (as
    `chat.service.turn_usage` counts them): a running count of user rows per
    conversation numbers them. Its latency is the sum of its model calls' and tools'
    durations, which run one after another; it fails when any of its rows failed.
    """
    numbered = (
        sa.select(
            messages.c.conversation_id,
            messages.c.created_at,
            messages.c.status,
            messages.c.duration_ms,
            sa.func.sum(_flag(messages.c.role == MessageRole.USER.value))
            .over(partition_by=messages.c.conversation_id, order_by=messages.c.id)
            .label("turn"),
        )
        .where(_in_period(messages.c.created_at, span))
        .subquery("numbered")
    )
    day = day_of(sa.func.min(numbered.c.created_at), db.dialect.name)
    return (
        sa.select(
            numbered.c.conversation_id,
            day.label("day"),
            sa.func.sum(sa.func.coalesce(numbered.c.duration_ms, 0)).label("latency_ms"),
            sa.func.max(_flag(numbered.c.status == MessageStatus.FAILED.value)).label("failed"),
        )
        .where(numbered.c.turn > 0)  # rows before the period's first user message
        .group_by(numbered.c.conversation_id, numbered.c.turn)
        .subquery("turns")
    )


def _percentile_rank(count: Any, percent: int) -> Any:
    # The nearest-rank percentile: the ceil(count * p / 100)-th smallest value, in integer
    # arithmetic so both databases pick the same row (SQLite has no percentile_cont).
    return (count * percent + 99) // 100


@dataclass(frozen=True)
class TurnFigures:
    """The period's turns, per day and per (user, base).

    Attributes:
        days: Per day: turns, failed_turns, p50_ms, p95_ms.
        owners: Per (user_id, base_id): turns, failed_turns.
    """

    days: dict[str, dict[str, Any]]
    owners: dict[tuple[int, str], dict[str, Any]]


def turn_figures(db: Connection, span: Period) -> TurnFigures:
    """Per day: turns, failed turns, p50/p95 latency (ms); per user and base: turns, failed.

    One statement over one numbering of the turns (a CTE both halves read, which both
    databases compute once), as numbering them is the costly part.
    """
    turns = _turns(db, span).element.cte("turns")  # type: ignore[attr-defined]
    ranked = sa.select(
        turns.c.day,
        turns.c.latency_ms,
        turns.c.failed,
        sa.func.row_number()
        .over(partition_by=turns.c.day, order_by=turns.c.latency_ms)
        .label("rank"),
        sa.func.count().over(partition_by=turns.c.day).label("n"),
    ).subquery("ranked")

    def percentile(percent: int) -> Any:
        return sa.func.max(
            sa.case((ranked.c.rank == _percentile_rank(ranked.c.n, percent), ranked.c.latency_ms))
        )

    no_user = sa.cast(sa.null(), sa.Integer)
    no_text = sa.cast(sa.null(), sa.String)
    per_day = sa.select(
        ranked.c.day.label("day"),
        no_user.label("user_id"),
        no_text.label("base_id"),
        sa.func.count().label("turns"),
        sa.func.sum(ranked.c.failed).label("failed_turns"),
        percentile(50).label("p50_ms"),
        percentile(95).label("p95_ms"),
    ).group_by(ranked.c.day)
    base = sa.func.coalesce(conversations.c.base_id, "")
    per_owner = (
        sa.select(
            no_text.label("day"),
            conversations.c.user_id,
            base.label("base_id"),
            sa.func.count().label("turns"),
            sa.func.sum(turns.c.failed).label("failed_turns"),
            sa.cast(sa.null(), sa.Integer).label("p50_ms"),
            sa.cast(sa.null(), sa.Integer).label("p95_ms"),
        )
        .select_from(turns.join(conversations, conversations.c.id == turns.c.conversation_id))
        .group_by(conversations.c.user_id, base)
    )
    figures = TurnFigures(days={}, owners={})
    for row in db.execute(sa.union_all(per_day, per_owner)):
        if row.day is not None:
            figures.days[row.day] = dict(row._mapping)
        else:
            figures.owners[(row.user_id, row.base_id)] = {
                "turns": row.turns,
                "failed_turns": row.failed_turns,
            }
    return figures


def _action_counts() -> list[Any]:
    status = actions.c.status
    return [
        sa.func.count().label("actions"),
        sa.func.sum(_flag(actions.c.confirmed_at.is_not(None))).label("approved"),
        sa.func.sum(_flag(status == ActionStatus.REJECTED.value)).label("rejected"),
        sa.func.sum(_flag(actions.c.undone_at.is_not(None))).label("undone"),
        sa.func.sum(_flag(status.in_(FAILED_ACTION_STATUSES))).label("failed_actions"),
    ]


def action_days(db: Connection, span: Period) -> dict[str, dict[str, Any]]:
    """Per day an action was proposed: how many, approved, rejected, undone, failed."""
    day = day_of(actions.c.created_at, db.dialect.name)
    statement = (
        sa.select(day.label("day"), *_action_counts())
        .where(_in_period(actions.c.created_at, span))
        .group_by(day)
    )
    return {row.day: dict(row._mapping) for row in db.execute(statement)}


def _usage_in_period(span: Period) -> ColumnElement[bool]:
    # The counter's day is already UTC text "YYYY-MM-DD", which sorts as dates do.
    return sa.and_(usage.c.day >= span.days[0], usage.c.day <= span.days[-1])


def airtable_days(db: Connection, span: Period) -> dict[str, dict[str, Any]]:
    """Per day: Airtable requests (chat turns, action runs, schema loads) and 429 answers.

    From the `airtable_usage` counter, which counts from the version that added it on.
    """
    statement = (
        sa.select(
            usage.c.day,
            sa.func.sum(usage.c.requests).label("airtable_requests"),
            sa.func.sum(usage.c.rate_limited).label("rate_limited"),
        )
        .where(_usage_in_period(span))
        .group_by(usage.c.day)
    )
    return {row.day: dict(row._mapping) for row in db.execute(statement)}


def tool_totals(db: Connection, span: Period) -> list[dict[str, Any]]:
    """Per tool: calls and failed calls over the period, the most used first."""
    name = sa.func.coalesce(messages.c.tool_name, "")
    statement = (
        sa.select(
            name.label("tool"),
            sa.func.count().label("calls"),
            sa.func.sum(_flag(messages.c.status == MessageStatus.FAILED.value)).label("failed"),
        )
        .where(messages.c.role == MessageRole.TOOL.value, _in_period(messages.c.created_at, span))
        .group_by(name)
        .order_by(sa.func.count().desc(), name)
    )
    return [dict(row._mapping) for row in db.execute(statement)]


def _usage_columns() -> list[Any]:
    role = messages.c.role
    return [
        sa.func.sum(_flag(role.in_([MessageRole.USER.value, MessageRole.ASSISTANT.value]))).label(
            "messages"
        ),
        sa.func.sum(_flag(role == MessageRole.TOOL.value)).label("tool_calls"),
        sa.func.sum(messages.c.prompt_tokens).label("prompt_tokens"),
        sa.func.sum(messages.c.completion_tokens).label("completion_tokens"),
        sa.func.sum(sa.func.coalesce(messages.c.cost_usd, 0.0)).label("cost_usd"),
    ]


# The message figures summed from per-conversation rows up to a user and a base.
_SUMMED = ["messages", "tool_calls", "prompt_tokens", "completion_tokens", "cost_usd"]


def owner_totals(db: Connection, span: Period, turns: TurnFigures) -> list[dict[str, Any]]:
    """Per (user, base) with any message or action in the period: usage, turns, actions.

    Messages are first aggregated per conversation (the period's index, no join per
    message), then per conversation's user and base: at most users x bases rows come
    back, which `user_totals` and `base_totals` add up.
    """
    per_conversation = (
        sa.select(messages.c.conversation_id, *_usage_columns())
        .where(_in_period(messages.c.created_at, span))
        .group_by(messages.c.conversation_id)
        .subquery("per_conversation")
    )
    base = sa.func.coalesce(conversations.c.base_id, "")
    statement = (
        sa.select(
            conversations.c.user_id,
            base.label("base_id"),
            sa.func.count().label("conversations"),
            *(sa.func.sum(per_conversation.c[name]).label(name) for name in _SUMMED),
        )
        .select_from(
            per_conversation.join(
                conversations, conversations.c.id == per_conversation.c.conversation_id
            )
        )
        .group_by(conversations.c.user_id, base)
    )
    found: dict[tuple[int, str], dict[str, Any]] = {
        (row.user_id, row.base_id): dict(row._mapping) for row in db.execute(statement)
    }
    for key, counted in turns.owners.items():
        found.setdefault(key, {}).update(counted)
    acted = (
        sa.select(actions.c.user_id, actions.c.base_id, *_action_counts())
        .where(_in_period(actions.c.created_at, span))
        .group_by(actions.c.user_id, actions.c.base_id)
    )
    for row in db.execute(acted):
        found.setdefault((row.user_id, row.base_id), {}).update(row._mapping)
    requested = (
        sa.select(
            usage.c.user_id,
            usage.c.base_id,
            sa.func.sum(usage.c.requests).label("airtable_requests"),
            sa.func.sum(usage.c.rate_limited).label("rate_limited"),
        )
        .where(_usage_in_period(span))
        .group_by(usage.c.user_id, usage.c.base_id)
    )
    for row in db.execute(requested):
        found.setdefault((row.user_id, row.base_id), {}).update(row._mapping)
    return [
        row | {"user_id": user_id, "base_id": base_id} for (user_id, base_id), row in found.items()
    ]


_ADDED = [
    "conversations",
    *_SUMMED,
    "turns",
    "failed_turns",
    "actions",
    "approved",
    "rejected",
    "undone",
]
_ADDED += ["failed_actions", "airtable_requests", "rate_limited"]


def _add_up(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    totals: dict[Any, dict[str, Any]] = {}
    for row in rows:
        total = totals.setdefault(row[key], {name: 0 for name in _ADDED})
        for name in _ADDED:
            total[name] += row.get(name) or 0
    return totals


def user_totals(db: Connection, span: Period, owners: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per user of `owner_totals`, with their email, by email."""
    totals = _add_up(owners, "user_id")
    found = db.execute(sa.select(users.c.id, users.c.email).where(users.c.id.in_(list(totals))))
    email_of = {row.id: row.email for row in found}
    rows = [
        {"user_id": user_id, "email": email_of.get(user_id, "")} | total
        for user_id, total in totals.items()
    ]
    return sorted(rows, key=lambda row: row["email"])


def base_totals(owners: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per base of `owner_totals`, by base id."""
    totals = _add_up(owners, "base_id")
    return [{"base_id": base_id} | totals[base_id] for base_id in sorted(totals)]
