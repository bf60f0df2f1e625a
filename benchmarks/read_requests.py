"""Airtable requests the read tools spend: paging through matches, and repeated aggregates.

Every request is a fifth of a second of the base's budget (5 requests/s, shared by every
user of the base), so a read that costs twice the requests it needs takes twice as long
and slows everyone else's. This counts requests, not time: the figures do not depend on
the machine.

The tools run as a turn runs them (`ToolRegistry.call` with a `ToolContext`) against the
Airtable emulator, unpaced, over an ``Items`` table of 5,000 records:

* paging: the model reads the 1,000 records with ``Index <= 1000`` the way it is told
  to, ``search_records`` with ``limit=100`` and then ``offset=next_offset`` until
  ``more_available`` is false; a single first page of 20 ("show me some items"); and
  a first page with ``count_total=true`` (the model asked for the exact number).
  The reference is the pages themselves: ``ceil(matches / limit)`` requests;
* aggregate: ``sum`` of ``Index`` over all 5,000 records, then the same question
  again in the next turn (a follow-up, e.g. "and what share is that?"), then once
  more after a write to the base; the same for a count with a filter. The reference
  is the first call's requests.

The schema request of the first call is left out (the schema cache has its own
figure in ``airtable_throughput``). Verdict: met when paging costs no more requests
than pages and a repeated aggregate costs none. Before this was measured (counting on
every first page, no aggregate cache): paging 20 requests for 10 pages, a first page
of 20 cost 11, and each repeated aggregate as much as the first.

Run: ``python -m benchmarks.read_requests``
"""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    app_settings_env,
    exit_cleanly_on_sigterm,
    offline_defaults,
    print_table,
    verdict,
)

TABLE_RECORDS = 5000
PAGED_MATCHES = 1000


def main() -> int:
    """Count the requests of each read; always returns 0 (a measurement, not a gate)."""
    offline_defaults()
    exit_cleanly_on_sigterm()
    from pyairtable_ui.emulator import AirtableEmulator
    from pyairtable_ui.emulator.seeds import build_seed

    with (
        tempfile.TemporaryDirectory(prefix="pyairtable-ui-bench-") as tmp,
        AirtableEmulator(build_seed(big_table_records=TABLE_RECORDS), rate_limit=0) as emulator,
    ):
        app_settings_env(
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            airtable_url=emulator.url,
            APP_ENV="test",
            AIRTABLE_REQUESTS_PER_SECOND="1000",
        )
        return asyncio.run(_measure(emulator))


async def _measure(emulator: Any) -> int:
    from pyairtable_ui.airtable import aggregate_cache
    from pyairtable_ui.airtable.client import AirtableClient
    from pyairtable_ui.airtable.schema import InProcessSchemaCache
    from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TOKEN_FULL
    from pyairtable_ui.tools import ToolContext, build_registry

    started = time.monotonic()
    registry = build_registry()
    schema_cache = InProcessSchemaCache()

    def new_turn() -> Any:
        # A turn of its own, as each chat turn gets: its own client and turn memo.
        client = AirtableClient(TOKEN_FULL, api_url=emulator.url)
        return ToolContext(
            user_id=1,
            base_id=BASE_PROJECTS_ID,
            client=client,
            session_factory=_no_database,
            schema_cache=schema_cache,
        )

    def record_requests() -> int:
        path = f"/v0/{BASE_PROJECTS_ID}/"
        return sum(1 for r in emulator.stats()["requests"] if r["path"].startswith(path))

    async def call(ctx: Any, tool: str, args: dict[str, Any]) -> tuple[dict[str, Any], int]:
        before = record_requests()
        result = await registry.call(tool, args, ctx)
        if result.is_error:
            raise SystemExit(f"{tool} failed: {result.content[:300]}")
        return json.loads(result.content), record_requests() - before

    # Warm the schema cache so no row counts the schema request.
    await call(new_turn(), "search_records", {"table": "Items", "limit": 1})

    paging_rows: list[list[Any]] = []
    condition = [{"field": "Index", "op": "lte", "value": PAGED_MATCHES}]
    ctx = new_turn()
    args: dict[str, Any] = {"table": "Items", "filters": condition, "limit": 100}
    page, spent = await call(ctx, "search_records", args)
    pages, requests, seen = 1, spent, page["returned"]
    first_page_said = _total_text(page)
    while page.get("more_available"):
        page, spent = await call(ctx, "search_records", {**args, "offset": page["next_offset"]})
        pages, requests, seen = pages + 1, requests + spent, seen + page["returned"]
    needed = math.ceil(PAGED_MATCHES / 100)
    paging_rows.append(
        [f"page through {seen:,} (limit 100)", pages, requests, needed, requests / needed]
    )
    paging_ok = requests <= needed

    page, spent = await call(new_turn(), "search_records", {**args, "limit": 20})
    paging_rows.append(["first page only (limit 20)", 1, spent, 1, spent / 1])
    one_page_said = _total_text(page)
    page, spent = await call(new_turn(), "search_records", {**args, "count_total": True})
    # The page, and a light request per 100 matches for the count.
    counted_needed = 1 + needed
    paging_rows.append(
        ["first page, count_total=true", 1, spent, counted_needed, spent / counted_needed]
    )
    counted_said = _total_text(page)
    print_table(
        f"search_records over {PAGED_MATCHES:,} matches of a {TABLE_RECORDS:,}-record table",
        ["read", "pages", "requests", "least needed", "ratio"],
        paging_rows,
    )
    print(
        f"  first page of 100 says: {first_page_said}; of 20: {one_page_said}; "
        f"with count_total: {counted_said}"
    )

    aggregate_rows: list[list[Any]] = []
    repeat_requests = 0
    questions = [
        ("sum of Index, all records", {"table": "Items", "op": "sum", "field": "Index"}),
        ("count where Even", {"table": "Items", "op": "count", "filters": [_even()]}),
    ]
    for label, question in questions:
        first, first_spent = await call(new_turn(), "aggregate", question)
        again, again_spent = await call(new_turn(), "aggregate", question)
        if again.get("value") != first.get("value"):
            raise SystemExit(f"aggregate changed its answer: {first} then {again}")
        repeat_requests += again_spent
        # A write the app sends to the base forgets its aggregates (actions.steps).
        aggregate_cache.invalidate(BASE_PROJECTS_ID)
        _, written_spent = await call(new_turn(), "aggregate", question)
        aggregate_rows.append(
            [
                label,
                first["records_matched"],
                first_spent,
                again_spent,
                written_spent,
                again_spent / first_spent,
            ]
        )
    print_table(
        "aggregate requests: asked, asked again (next turn, same user), after a write",
        ["question", "records", "1st", "2nd", "after a write", "2nd/1st"],
        aggregate_rows,
    )
    print(f"\n  ({time.monotonic() - started:.1f} s)")

    verdict(
        paging_ok and repeat_requests == 0,
        f"paging through {PAGED_MATCHES:,} matches: {paging_rows[0][2]} requests for "
        f"{needed} pages; first page of 20: {paging_rows[1][2]}; a repeated aggregate: "
        f"{repeat_requests} requests (first: {aggregate_rows[0][2]}).",
    )
    return 0


def _total_text(page: dict[str, Any]) -> str:
    if "total" in page:
        return f"total {page['total']:,}"
    if "total_at_least" in page:
        return f"at least {page['total_at_least']:,}, more_available"
    return "no total"


def _even() -> dict[str, Any]:
    return {"field": "Even", "op": "eq", "value": True}


def _no_database() -> Any:
    raise AssertionError("the read tools open no database session")


if __name__ == "__main__":
    raise SystemExit(main())
