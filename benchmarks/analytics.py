"""Admin analytics: the server time to compute /admin/analytics's figures for 90 days.

Target (issue 14): "a seeded 90-day, 20-user, 50,000-message data set renders in under
1 s of server time".

Seeds 90 days of use into a new SQLite file and into a new PostgreSQL database of its
own (``BENCHMARK_POSTGRES_URL``, default the local server's ``test`` database, from
which a uniquely named database is created and dropped afterwards): 20 users, 100
conversations over 5 bases, 50,000 messages in turns of a user message, often a tool
call, and an answer, with tokens, costs and durations, 2,000 actions in every status,
and the Airtable counter's 9,000 day/user/base rows. Then it times
``analytics.flows.compute`` (every query the page awaits, no Reflex) for 7, 30 and 90
days, the median of 3 runs each, and a
reference query in the same run: a plain count of the messages that also sums a column,
so it reads every row on both databases (SQLite answers a bare ``COUNT(*)`` from the
b-tree's page counts), and the ratio says how many full reads of the table the page
costs, whatever the machine's load.

Verdict: met when the 90-day figures take under 1 s on every database measured.

Run: ``python -m benchmarks.analytics``
"""

from __future__ import annotations

import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import exit_cleanly_on_sigterm, offline_defaults, print_table, verdict

USERS = 20
CONVERSATIONS = 100
BASES = [f"appBenchBase{n:05d}" for n in range(5)]
MESSAGES = 50_000
ACTIONS = 2_000
DAYS = 90
RUNS = 3
TARGET_SECONDS = 1.0
TOOLS = ["list_records", "search_records", "get_schema", "aggregate", "get_record"]
ACTION_STATUSES = ["done", "done", "done", "rejected", "undone", "failed", "rolled_back"]
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
REFERENCE_SQL = "SELECT count(*), sum(prompt_tokens) FROM messages"


@contextmanager
def _postgres_database() -> Iterator[str | None]:
    """A new, empty PostgreSQL database for this run, or None when no server answers."""
    import psycopg

    server = os.environ.get(
        "BENCHMARK_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    ).replace("postgresql+psycopg://", "postgresql://")
    name = f"pui_bench_analytics_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL not reachable ({type(exc).__name__}): measuring SQLite only")
        yield None
        return
    base, _, _ = server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _seed(engine: Any) -> None:
    """Insert the data set with bulk Core inserts (the seeding is not what is measured)."""
    from pyairtable_ui.actions.models import Action
    from pyairtable_ui.airtable.models import AirtableUsage
    from pyairtable_ui.auth.models import User
    from pyairtable_ui.chat.models import Conversation, Message

    rng = random.Random(14)
    start = NOW - timedelta(days=DAYS - 1)
    span = (NOW - start).total_seconds()
    with engine.begin() as db:
        db.execute(
            User.__table__.insert(),  # type: ignore[attr-defined]
            [
                {"id": n + 1, "email": f"user{n:02d}@example.com", "password_hash": "x"}
                for n in range(USERS)
            ],
        )
        db.execute(
            Conversation.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "id": n + 1,
                    "user_id": n % USERS + 1,
                    "base_id": BASES[n % len(BASES)],
                    "title": "Benchmark",
                    "created_at": start,
                    "updated_at": start,
                }
                for n in range(CONVERSATIONS)
            ],
        )
        rows: list[dict[str, Any]] = []
        while len(rows) < MESSAGES:
            conversation = rng.randrange(CONVERSATIONS) + 1
            at = start + timedelta(seconds=rng.random() * span)
            common = {"conversation_id": conversation, "created_at": at}
            rows.append(common | {"role": "user", "content": "How many open deals?"})
            if rng.random() < 0.6:
                rows.append(
                    common
                    | {
                        "role": "tool",
                        "tool_name": rng.choice(TOOLS),
                        "status": "failed" if rng.random() < 0.03 else "complete",
                        "duration_ms": rng.randint(50, 2000),
                        "airtable_calls": rng.randint(1, 4),
                    }
                )
            rows.append(
                common
                | {
                    "role": "assistant",
                    "content": "There are 12.",
                    "status": "failed" if rng.random() < 0.02 else "complete",
                    "prompt_tokens": rng.randint(500, 4000),
                    "completion_tokens": rng.randint(20, 400),
                    "cost_usd": rng.random() / 100,
                    "duration_ms": rng.randint(300, 8000),
                }
            )
        # Same keys in every row, so the insert is one executemany.
        keys = {key for row in rows for key in row}
        defaults = {"content": "", "status": "complete", "prompt_tokens": 0}
        defaults |= {"completion_tokens": 0, "airtable_calls": 0}
        rows = [{key: row.get(key, defaults.get(key)) for key in keys} for row in rows[:MESSAGES]]
        db.execute(Message.__table__.insert(), rows)  # type: ignore[attr-defined]
        actions = []
        for _ in range(ACTIONS):
            at = start + timedelta(seconds=rng.random() * span)
            status = rng.choice(ACTION_STATUSES)
            actions.append(
                {
                    "user_id": rng.randrange(USERS) + 1,
                    "tool_name": "update_records",
                    "base_id": rng.choice(BASES),
                    "status": status,
                    "arguments": {},
                    "plan": {},
                    "created_at": at,
                    "updated_at": at,
                    "confirmed_at": None if status == "rejected" else at,
                    "undone_at": at if status == "undone" else None,
                }
            )
        db.execute(Action.__table__.insert(), actions)  # type: ignore[attr-defined]
        # The Airtable counter: one row per day, user and base, as `airtable.usage` saves.
        db.execute(
            AirtableUsage.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "day": (start + timedelta(days=day)).strftime("%Y-%m-%d"),
                    "user_id": user + 1,
                    "base_id": base,
                    "requests": rng.randint(0, 200),
                    "rate_limited": rng.randint(0, 3),
                }
                for day in range(DAYS)
                for user in range(USERS)
                for base in BASES
            ],
        )
    with engine.connect() as db:
        # Fresh statistics, as a live database has, so the planner uses the indexes.
        db.exec_driver_sql("ANALYZE")
        db.commit()


def _median_seconds(work: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _measure(label: str, url: str) -> tuple[list[list[Any]], float]:
    import sqlalchemy as sa
    from sqlmodel import Session

    from pyairtable_ui.analytics import flows
    from pyairtable_ui.core.db import make_engine
    from pyairtable_ui.core.migrations import upgrade_to_head

    engine = make_engine(url)
    try:
        upgrade_to_head(engine)
        started = time.perf_counter()
        _seed(engine)
        print(f"{label}: seeded in {time.perf_counter() - started:.1f} s")
        with Session(engine) as db:
            flows.compute(db, DAYS, now=NOW)  # warm: connection, statement compilation
            reference = _median_seconds(
                lambda: db.connection().execute(sa.text(REFERENCE_SQL)).one()
            )
            rows = []
            figures: dict[int, float] = {}
            for days in flows.PERIODS:
                figures[days] = _median_seconds(lambda days=days: flows.compute(db, days, now=NOW))
                rows.append(
                    [
                        f"{label} {days} days",
                        figures[days] * 1000,
                        reference * 1000,
                        figures[days] / reference if reference else float("nan"),
                    ]
                )
            view = flows.compute(db, DAYS, now=NOW)
        counted = sum(day["messages"] + day["tool_calls"] for day in view.days)
        assert counted == MESSAGES, f"the figures count {counted} messages, not {MESSAGES}"
        return rows, figures[DAYS]
    finally:
        engine.dispose()


def main() -> None:
    exit_cleanly_on_sigterm()
    offline_defaults()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    rows: list[list[Any]] = []
    worst: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="pui-bench-analytics-") as folder:
        sqlite_rows, worst["SQLite"] = _measure(
            "SQLite", f"sqlite:///{Path(folder) / 'analytics.db'}"
        )
        rows += sqlite_rows
    with _postgres_database() as postgres_url:
        if postgres_url:
            postgres_rows, worst["PostgreSQL"] = _measure("PostgreSQL", postgres_url)
            rows += postgres_rows
    print_table(
        f"/admin/analytics figures: {USERS} users, {MESSAGES:,} messages, {ACTIONS:,} actions "
        f"over {DAYS} days (median of {RUNS})",
        ["database / period", "figures ms", "reference ms", "ratio"],
        rows,
    )
    verdict(
        all(seconds < TARGET_SECONDS for seconds in worst.values()),
        ", ".join(f"{name} 90 days {seconds * 1000:.0f} ms" for name, seconds in worst.items())
        + f" (target < {TARGET_SECONDS * 1000:.0f} ms)",
    )


if __name__ == "__main__":
    main()
