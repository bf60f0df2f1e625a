"""Airtable throughput: bulk writes and reads against the real rate limit, schema caching.

Targets (PRODUCT.md §6): "bulk writes reach at least 90% of the hard limit (5
requests/s x 10 records = 50 records/s per base) with zero 429s; reads at least 90% of
500 records/s; the schema is fetched once per base per cache period, not per turn."

Everything goes through the app's own code against the Airtable emulator run with
Airtable's real limit (5 requests/s per base) and a 30-second penalty, so a single 429
would show as a half-minute stall as well as in the counts:

(a) writes: 500 records created, then those 500 updated, each as one confirmed action
    run by ``execute_action`` with an ``AirtableClient`` (batches of 10, the update's
    "before" snapshots included, every step committed to a SQLite database);
(b) reads: 2,000 records listed with ``AirtableClient.iterate_records`` (pages of 100);
(c) schema: two chat turns on one base, each prepared by ``prepare_turn`` (which puts
    the schema in the system prompt) and each running a ``search_records`` tool call;
    the emulator counts the schema requests.

Throughput is printed both as records per wall-clock second and as the sustained rate
once the first second's burst is spent (see `Phase.sustained`); the share of the hard
limit, compared with 90%, uses the sustained rate. The emulator's request log gives the
429 count and the most requests any base received in a sliding one-second window (at
most 5 means the pacing never exceeded the limit).

Run: ``python -m benchmarks.airtable_throughput``
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import (
    app_settings_env,
    exit_cleanly_on_sigterm,
    max_in_window,
    migrate,
    offline_defaults,
    print_table,
    verdict,
)

RATE_LIMIT = 5  # Airtable's requests per second per base
RECORDS_PER_REQUEST = 10
WRITE_LIMIT = RATE_LIMIT * RECORDS_PER_REQUEST  # 50 records/s
READ_LIMIT = RATE_LIMIT * 100  # 500 records/s: pages of 100
TARGET_SHARE = 0.90
# Issue 15: updates read a snapshot of each 100 (1 request in 11), so their target is lower.
UPDATE_SHARE = 0.85
WRITE_RECORDS = 500
READ_RECORDS = 2000
PENALTY_SECONDS = 30.0


@dataclass
class Phase:
    """One measured operation and what the emulator saw during it.

    Attributes:
        name: What was done.
        records: Records read or written.
        seconds: Wall-clock time of the whole operation.
        times: When the emulator answered each of the operation's requests.
        rate_limited: 429 answers during it.
        limit: The hard limit in records per second.
        server_seconds: Time the emulator spent answering (a slow request delays the
            next slots too: the pacer counts a request at its end).
    """

    name: str
    records: int
    seconds: float
    times: list[float]
    rate_limited: int
    limit: float
    server_seconds: float

    @property
    def requests(self) -> int:
        """Requests the base received."""
        return len(self.times)

    @property
    def max_per_second(self) -> int:
        """The most requests in any sliding one-second window."""
        return max_in_window(self.times)

    @property
    def per_second(self) -> float:
        """Records per wall-clock second."""
        return self.records / self.seconds if self.seconds else 0.0

    @property
    def sustained(self) -> float:
        """Records per second once the first second's burst is spent.

        A sliding window lets the first RATE_LIMIT requests go at once, which flatters
        a short run (20 pages "beat" 500 records/s). Leaving out that burst, as
        (requests - RATE_LIMIT) over the span of the requests, gives the rate a long
        import would sustain: the figure the target is about.
        """
        times = sorted(self.times)
        if len(times) <= RATE_LIMIT or times[-1] <= times[0]:
            return self.per_second
        per_request = self.records / len(times)
        return (len(times) - RATE_LIMIT) * per_request / (times[-1] - times[0])

    @property
    def share(self) -> float:
        """Share of the hard limit sustained."""
        return self.sustained / self.limit


def _phase_log(emulator: Any, since: float, base_id: str) -> tuple[list[float], int, float]:
    """Answer times of the base's requests since `since`, 429s, and seconds spent serving."""
    log = [r for r in emulator.stats()["requests"] if r["t"] >= since and r.get("base") == base_id]
    limited = sum(1 for r in log if r["status"] == 429)
    return [r["t"] for r in log], limited, sum(r["duration_ms"] for r in log) / 1000


def main() -> int:
    """Run the three measurements; always returns 0 (a measurement, not a gate)."""
    offline_defaults()
    exit_cleanly_on_sigterm()
    from pyairtable_ui.emulator import AirtableEmulator
    from pyairtable_ui.emulator.seeds import build_seed

    with (
        tempfile.TemporaryDirectory(prefix="pyairtable-ui-bench-") as tmp,
        AirtableEmulator(
            build_seed(big_table_records=READ_RECORDS),
            rate_limit=RATE_LIMIT,
            penalty_seconds=PENALTY_SECONDS,
        ) as emulator,
    ):
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        app_settings_env(
            database_url=url,
            airtable_url=emulator.url,
            APP_ENV="test",
            AIRTABLE_REQUESTS_PER_SECOND=str(RATE_LIMIT),
        )
        migrate(url)
        return _measure(emulator)


def _measure(emulator: Any) -> int:
    from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID

    started = time.monotonic()
    read = _read_phase(emulator, BASE_PROJECTS_ID)
    user_id = _make_user()
    create, created_ids = _write_phase(emulator, BASE_PROJECTS_ID, user_id, "create", [])
    update, _ = _write_phase(emulator, BASE_PROJECTS_ID, user_id, "update", created_ids)
    reviewed, _ = _write_phase(
        emulator, BASE_PROJECTS_ID, user_id, "update", created_ids, review=True
    )
    schema_rows, schema_requests = asyncio.run(_schema_phase(emulator, BASE_PROJECTS_ID))

    all_log = [r for r in emulator.stats()["requests"] if r.get("base") == BASE_PROJECTS_ID]
    overall_max = max_in_window(r["t"] for r in all_log)
    overall_429 = sum(1 for r in emulator.stats()["requests"] if r["status"] == 429)

    phases = [create, update, reviewed, read]
    print_table(
        f"Airtable emulator at {RATE_LIMIT} req/s per base, {PENALTY_SECONDS:.0f} s penalty",
        ["operation", "records", "seconds", "wall rec/s", "sustained", "limit", "share",
         "requests", "429s", "max req/1s", "served s"],
        [
            [p.name, p.records, p.seconds, p.per_second, p.sustained, f"{p.limit:.0f}/s",
             f"{p.share:.0%}", p.requests, p.rate_limited, p.max_per_second,
             p.server_seconds]
            for p in phases
        ],
    )  # fmt: skip
    print_table(
        "Schema fetches over two turns on the same base (cache: SCHEMA_CACHE_SECONDS)",
        ["turn", "schema requests", "all Airtable requests of the turn"],
        schema_rows,
    )
    print(
        "\n  share = sustained rate (after the first second's burst) / hard limit; the update"
        "\n  also reads each 100 records once for its undo snapshot (counted in its requests);"
        "\n  served s = time the emulator spent answering (filtered snapshot reads are slow)."
    )
    print(
        f"  whole run: {len(all_log)} requests to the base, max {overall_max} in any 1 s, "
        f"{overall_429} x 429 ({time.monotonic() - started:.0f} s)"
    )

    writes_ok = create.share >= TARGET_SHARE and min(update.share, reviewed.share) >= UPDATE_SHARE
    read_ok = read.share >= TARGET_SHARE
    pacing_ok = overall_429 == 0 and overall_max <= RATE_LIMIT
    schema_ok = schema_requests == 1
    verdict(
        writes_ok and read_ok and pacing_ok and schema_ok,
        f"writes {create.share:.0%} (create, target {TARGET_SHARE:.0%}) / "
        f"{update.share:.0%} (update) / {reviewed.share:.0%} (update from review to done; "
        f"target {UPDATE_SHARE:.0%}) of {WRITE_LIMIT}/s, reads {read.share:.0%} of "
        f"{READ_LIMIT}/s (target >= {TARGET_SHARE:.0%}); {overall_429} x 429, "
        f"max {overall_max} req/s (<= {RATE_LIMIT}); "
        f"schema fetched {schema_requests}x for 2 turns (target 1).",
    )
    return 0


def _read_phase(emulator: Any, base_id: str) -> Phase:
    from pyairtable_ui.airtable.client import AirtableClient
    from pyairtable_ui.emulator.seeds import TABLE_ITEMS_ID, TOKEN_FULL

    client = AirtableClient(TOKEN_FULL, api_url=emulator.url)
    since = time.time()
    start = time.perf_counter()
    count = sum(len(page) for page in client.iterate_records(base_id, TABLE_ITEMS_ID))
    seconds = time.perf_counter() - start
    assert count == READ_RECORDS, count
    times, limited, served = _phase_log(emulator, since, base_id)
    return Phase("read 2,000 (list)", count, seconds, times, limited, READ_LIMIT, served)


def _make_user() -> int:
    from pyairtable_ui.auth.models import User
    from pyairtable_ui.core.db import session_scope

    with session_scope() as db:
        user = User(email="bench-writer@example.com", display_name="Bench")
        db.add(user)
        db.flush()
        assert user.id is not None
        return user.id


def _write_phase(
    emulator: Any,
    base_id: str,
    user_id: int,
    op: str,
    record_ids: list[str],
    *,
    review: bool = False,
) -> tuple[Phase, list[str]]:
    """Propose, confirm and execute one bulk action; returns the phase and record ids.

    With `review`, the phase starts with the preview the review panel reads
    (`build_preview`), then the user's approval (the typed count) and the run, as the
    chat page does from opening the review to the last batch: the end-to-end figure.
    """
    from sqlmodel import col, select

    from pyairtable_ui.actions.approval import approve_action
    from pyairtable_ui.actions.execution import execute_action
    from pyairtable_ui.actions.models import ActionStep
    from pyairtable_ui.actions.plan import parse_plan
    from pyairtable_ui.actions.preview import build_preview
    from pyairtable_ui.actions.service import confirm_action, propose_action
    from pyairtable_ui.airtable.client import AirtableClient
    from pyairtable_ui.core.db import get_engine, session_factory_for
    from pyairtable_ui.emulator.seeds import TABLE_ITEMS_ID, TOKEN_FULL

    if op == "create":
        operations = [
            {"op": "create", "fields": {"Name": f"Bench {n:04d}", "Index": 10_000 + n}}
            for n in range(WRITE_RECORDS)
        ]
    else:
        operations = [
            {
                "op": "update",
                "record_id": rid,
                # The reviewed run writes other values: unchanged rows would be left out.
                "fields": {"Index": (40_000 if review else 20_000) + n, "Even": True},
            }
            for n, rid in enumerate(record_ids)
        ]
    plan = {"kind": "records", "op": op, "typecast": False, "operations": operations}
    factory = session_factory_for(get_engine())
    with factory() as db:
        action = propose_action(
            session=db,
            user_id=user_id,
            conversation_id=None,
            message_id=None,
            tool_name=f"{op}_records",
            base_id=base_id,
            table_id=TABLE_ITEMS_ID,
            table_name="Items",
            arguments={},
            plan=parse_plan(plan),
            summary=f"{op} {len(operations)} records in Items",
            record_count=len(operations),
            # The benchmark plays the user who already confirmed (typed confirmation is
            # the UI's concern and would need the approval module under construction).
            needs_typed_confirmation=review,
        )
        assert action.id is not None
        action_id = action.id
        if not review:
            confirm_action(session=db, user_id=user_id, action_id=action_id)

    client = AirtableClient(TOKEN_FULL, api_url=emulator.url)
    since = time.time()
    start = time.perf_counter()
    if review:
        build_preview(session_factory=factory, user_id=user_id, action_id=action_id, client=client)
        with factory() as db:
            approve_action(
                session=db,
                user_id=user_id,
                action_id=action_id,
                approved_row_ids=None,
                typed_count=str(len(operations)),
            )
    done = execute_action(
        session_factory=factory, user_id=user_id, action_id=action_id, client=client
    )
    seconds = time.perf_counter() - start
    if done.status != "done":
        print(f"  ! {op} action ended {done.status}: {done.error}")
    times, limited, served = _phase_log(emulator, since, base_id)
    with factory() as db:
        steps = db.exec(
            select(ActionStep)
            .where(ActionStep.action_id == action_id)
            .order_by(col(ActionStep.seq))
        ).all()
        ids = [rid for step in steps for rid in (step.record_ids or [])]
    name = f"{op} 500 (review + run)" if review else f"{op} 500 (execute_action)"
    return Phase(name, len(operations), seconds, times, limited, WRITE_LIMIT, served), ids


async def _schema_phase(emulator: Any, base_id: str) -> tuple[list[list[Any]], int]:
    """Two turns as the chat page runs them; returns table rows and the schema requests."""
    from pyairtable_ui.airtable.connections import check_airtable_token, save_connection
    from pyairtable_ui.auth.models import User
    from pyairtable_ui.chat import service
    from pyairtable_ui.chat.turns import prepare_turn
    from pyairtable_ui.core.db import session_scope
    from pyairtable_ui.emulator.seeds import TOKEN_FULL

    check = await asyncio.to_thread(check_airtable_token, TOKEN_FULL, api_url=emulator.url)
    with session_scope() as db:
        user = User(email="bench-chat@example.com", display_name="Bench")
        db.add(user)
        db.flush()
        save_connection(session=db, user=user, token=TOKEN_FULL, check=check)
        assert user.id is not None
        user_id = user.id
        conversation = service.create_conversation(session=db, user_id=user_id, base_id=base_id)
        assert conversation.id is not None
        conversation_id = conversation.id

    schema_path = f"/v0/meta/bases/{base_id}/tables"
    rows: list[list[Any]] = []
    total = 0
    for turn in (1, 2):
        before = sum(1 for r in emulator.stats()["requests"] if r["path"] == schema_path)
        prepared = await asyncio.to_thread(
            prepare_turn,
            user_id=user_id,
            conversation_id=conversation_id,
            base_id=base_id,
            base_name="Emulator Projects",
            model="openai/scripted",
            question=f"Turn {turn}: which tasks are open?",
        )
        result = await prepared.tools.call(
            "search_records", {"table": "Tasks", "limit": 5}, f"call-{turn}"
        )
        if result.is_error:
            print(f"  ! search_records failed: {result.content[:200]}")
        after = sum(1 for r in emulator.stats()["requests"] if r["path"] == schema_path)
        total += after - before
        rows.append([turn, after - before, prepared.tools.airtable_calls()])
    return rows, total


if __name__ == "__main__":
    raise SystemExit(main())
