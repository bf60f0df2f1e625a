"""The analytics page's figures, as SQL aggregates grouped by day, user, base and tool.

Every figure is computed by the database (GROUP BY, window functions) over an indexed
time range (`ix_messages_created_at`, `ix_actions_created_at`): no query here loads
the period's rows into Python, only one row per day, user, base or tool. The same
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

from pyairtable_ui.actions.models import Action, ActionStatus, ActionStep
from pyairtable_ui.auth.models import User
from pyairtable_ui.chat.models import Conversation, Message, MessageRole, MessageStatus

messages = Message.__table__  # type: ignore[attr-defined]
conversations = Conversation.__table__  # type: ignore[attr-defined]
actions = Action.__table__  # type: ignore[attr-defined]
steps = ActionStep.__table__  # type: ignore[attr-defined]
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
    """Per day: active users, conversations, messages, tool calls, tokens, cost, requests.

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
            sa.func.sum(messages.c.airtable_calls).label("airtable_requests"),
        )
        .select_from(messages.join(conversations))
        .where(_in_period(messages.c.created_at, span))
        .group_by(day)
    )
    return {row.day: dict(row._mapping) for row in db.execute(statement)}


def _turns(db: Connection, span: Period, *extra: Any) -> sa.Subquery:
    """One row per turn of the period: its day, latency, whether it failed, and `extra`.

    A turn is a user message and the rows after it up to the next one (as
    `chat.service.turn_usage` counts them): a running count of user rows per
    conversation numbers them. Its latency is the sum of its model calls' and tools'
    durations, which run one after another; it fails when any of its rows failed.
    """
    role = messages.c.role
    numbered = (
        sa.select(
            messages.c.conversation_id,
            messages.c.created_at,
            messages.c.status,
            messages.c.duration_ms,
            sa.func.sum(_flag(role == MessageRole.USER.value))
            .over(partition_by=messages.c.conversation_id, order_by=messages.c.id)
            .label("turn"),
            *extra,
        )
        .select_from(messages.join(conversations))
        .where(_in_period(messages.c.created_at, span))
        .subquery("numbered")
    )
    day = day_of(sa.func.min(numbered.c.created_at), db.dialect.name)
    extra_columns = [numbered.c[column.name] for column in extra]
    return (
        sa.select(
            day.label("day"),
            sa.func.sum(sa.func.coalesce(numbered.c.duration_ms, 0)).label("latency_ms"),
            sa.func.max(_flag(numbered.c.status == MessageStatus.FAILED.value)).label("failed"),
            *extra_columns,
        )
        .where(numbered.c.turn > 0)  # rows before the period's first user message
        .group_by(numbered.c.conversation_id, numbered.c.turn, *extra_columns)
        .subquery("turns")
    )


def _percentile_rank(count: Any, percent: int) -> Any:
    # The nearest-rank percentile: the ceil(count * p / 100)-th smallest value, in integer
    # arithmetic so both databases pick the same row (SQLite has no percentile_cont).
    return (count * percent + 99) // 100


def turn_days(db: Connection, span: Period) -> dict[str, dict[str, Any]]:
    """Per day: turns, failed turns, and the p50/p95 turn latency in milliseconds."""
    turns = _turns(db, span)
    ranked = sa.select(
        turns.c.day,
        turns.c.latency_ms,
        turns.c.failed,
        sa.func.row_number()
        .over(partition_by=turns.c.day, order_by=turns.c.latency_ms)
        .label("rank"),
        sa.func.count().over(partition_by=turns.c.day).label("n"),
    ).subquery("ranked")
    statement = sa.select(
        ranked.c.day,
        sa.func.count().label("turns"),
        sa.func.sum(ranked.c.failed).label("failed_turns"),
        sa.func.max(
            sa.case(
                (ranked.c.rank == _percentile_rank(ranked.c.n, 50), ranked.c.latency_ms),
            )
        ).label("p50_ms"),
        sa.func.max(
            sa.case(
                (ranked.c.rank == _percentile_rank(ranked.c.n, 95), ranked.c.latency_ms),
            )
        ).label("p95_ms"),
    ).group_by(ranked.c.day)
    return {row.day: dict(row._mapping) for row in db.execute(statement)}


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


def _write_requests(span: Period) -> sa.Select[Any]:
    # Writes are sent by action runs, not chat turns: one request per step sent.
    return (
        sa.select(sa.func.count())
        .select_from(steps.join(actions))
        .where(_in_period(actions.c.created_at, span), steps.c.started_at.is_not(None))
    )


def write_request_days(db: Connection, span: Period) -> dict[str, int]:
    """Per day an action was proposed: the Airtable requests its steps sent."""
    day = day_of(actions.c.created_at, db.dialect.name)
    statement = _write_requests(span).add_columns(day.label("day")).group_by(day)
    return {row.day: int(row[0]) for row in db.execute(statement)}


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


def _usage_by(db: Connection, span: Period, key: Any) -> dict[Any, dict[str, Any]]:
    role = messages.c.role
    statement = (
        sa.select(
            key.label("key"),
            sa.func.count(sa.distinct(messages.c.conversation_id)).label("conversations"),
            sa.func.sum(
                _flag(role.in_([MessageRole.USER.value, MessageRole.ASSISTANT.value]))
            ).label("messages"),
            sa.func.sum(_flag(role == MessageRole.TOOL.value)).label("tool_calls"),
            sa.func.sum(messages.c.prompt_tokens).label("prompt_tokens"),
            sa.func.sum(messages.c.completion_tokens).label("completion_tokens"),
            sa.func.sum(sa.func.coalesce(messages.c.cost_usd, 0.0)).label("cost_usd"),
            sa.func.sum(messages.c.airtable_calls).label("airtable_requests"),
        )
        .select_from(messages.join(conversations))
        .where(_in_period(messages.c.created_at, span))
        .group_by(key)
    )
    return {row.key: dict(row._mapping) for row in db.execute(statement)}


def _failed_turns_by(db: Connection, span: Period, key: Any) -> dict[Any, dict[str, Any]]:
    turns = _turns(db, span, key.label("key"))
    statement = sa.select(
        turns.c.key, sa.func.count().label("turns"), sa.func.sum(turns.c.failed).label("failed")
    ).group_by(turns.c.key)
    return {
        row.key: {"turns": row.turns, "failed_turns": row.failed} for row in db.execute(statement)
    }


def _actions_by(db: Connection, span: Period, key: Any) -> dict[Any, dict[str, Any]]:
    statement = (
        sa.select(key.label("key"), *_action_counts())
        .where(_in_period(actions.c.created_at, span))
        .group_by(key)
    )
    found = {row.key: dict(row._mapping) for row in db.execute(statement)}
    if key is actions.c.base_id:
        writes = _write_requests(span).add_columns(actions.c.base_id).group_by(actions.c.base_id)
        for row in db.execute(writes):
            found.setdefault(row.base_id, {})["write_requests"] = int(row[0])
    return found


def user_totals(db: Connection, span: Period) -> list[dict[str, Any]]:
    """Per user with any message or action in the period: usage, turns and actions."""
    usage = _usage_by(db, span, conversations.c.user_id)
    turns = _failed_turns_by(db, span, conversations.c.user_id)
    acted = _actions_by(db, span, actions.c.user_id)
    ids = sorted(set(usage) | set(acted))
    found = db.execute(sa.select(users.c.id, users.c.email).where(users.c.id.in_(ids)))
    email_of = {row.id: row.email for row in found}
    rows = [
        {"user_id": user_id, "email": email_of.get(user_id, "")}
        | usage.get(user_id, {})
        | turns.get(user_id, {})
        | acted.get(user_id, {})
        for user_id in ids
    ]
    return sorted(rows, key=lambda row: row["email"])


def base_totals(db: Connection, span: Period) -> list[dict[str, Any]]:
    """Per base with any message or action in the period: usage, requests and actions."""
    base = sa.func.coalesce(conversations.c.base_id, "")
    usage = _usage_by(db, span, base)
    turns = _failed_turns_by(db, span, base)
    acted = _actions_by(db, span, actions.c.base_id)
    return [
        {"base_id": base_id}
        | usage.get(base_id, {})
        | turns.get(base_id, {})
        | acted.get(base_id, {})
        for base_id in sorted(set(usage) | set(acted))
    ]
