"""Import and export throughput, as a share of Airtable's limit (issue 13).

Everything goes through the app's own code against the Airtable emulator at Airtable's
real limit (5 requests/s per base):

(a) import: a 5,000-row CSV (text, number, single select, checkbox) stored as an upload,
    read, mapped to the Items table and proposed as one action (`imports.propose_import`),
    then reviewed, approved with the typed count and run (`actions.flows`): 500 batches
    of 10 under the pacer. The hard limit is 5 x 10 = 50 records/s.
(b) export: the Items table (the 5,000 imported records and the seed's) written to CSV
    and to XLSX by `exports.export_table`: pages of 100, so the limit is 500 records/s.

"share" is the sustained rate once the first second's burst is spent (as in
`airtable_throughput`) over the hard limit. Printed only: a measurement, not a gate.

Run: ``python -m benchmarks.import_export``
"""

from __future__ import annotations

import csv
import io
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.airtable_throughput import Phase, _phase_log
from benchmarks.common import (
    app_settings_env,
    exit_cleanly_on_sigterm,
    migrate,
    offline_defaults,
    print_table,
)

RATE_LIMIT = 5
IMPORT_ROWS = 5000
SEED_ITEMS = 100
WRITE_LIMIT = RATE_LIMIT * 10
READ_LIMIT = RATE_LIMIT * 100


def main() -> int:
    """Import 5,000 rows, export them twice; print the figures (always returns 0)."""
    offline_defaults()
    exit_cleanly_on_sigterm()
    from pyairtable_ui.emulator import AirtableEmulator
    from pyairtable_ui.emulator.seeds import build_seed

    with (
        tempfile.TemporaryDirectory(prefix="pyairtable-ui-bench-") as tmp,
        AirtableEmulator(
            build_seed(big_table_records=SEED_ITEMS), rate_limit=RATE_LIMIT, penalty_seconds=30
        ) as emulator,
    ):
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        app_settings_env(
            database_url=url,
            airtable_url=emulator.url,
            APP_ENV="test",
            AIRTABLE_REQUESTS_PER_SECOND=str(RATE_LIMIT),
            FILES_DIR=str(Path(tmp) / "files"),
        )
        migrate(url)
        return _measure(emulator)


def _csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Name", "Index", "Group", "Even"])
    for i in range(IMPORT_ROWS):
        writer.writerow([f"Imported {i:05d}", 100_000 + i, "ABCD"[i % 4], "yes" if i % 2 else "no"])
    return out.getvalue().encode()


def _measure(emulator: Any) -> int:
    from pyairtable_ui.actions import flows
    from pyairtable_ui.airtable.client import AirtableClient
    from pyairtable_ui.auth.models import User
    from pyairtable_ui.automations import exports, imports
    from pyairtable_ui.core.db import session_scope
    from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TABLE_ITEMS_ID, TOKEN_FULL

    with session_scope() as db:
        user = User(email="bench-import@example.com", display_name="Bench")
        db.add(user)
        db.flush()
        assert user.id is not None
        user_id = user.id
    client = AirtableClient(TOKEN_FULL, api_url=emulator.url)

    def client_for(_user_id: int) -> AirtableClient:
        return client

    base = BASE_PROJECTS_ID
    phases: list[Phase] = []
    started = time.perf_counter()
    upload = imports.save_upload(user_id, "items.csv", [_csv()])
    request = imports.ImportRequest(
        base_id=base,
        table=TABLE_ITEMS_ID,
        mapping=[
            imports.ColumnMapping(c, imports.EXISTING, c)
            for c in ("Name", "Index", "Group", "Even")
        ],
    )
    proposal = imports.propose_import(
        user_id, request, upload=upload, filename="items.csv", sheet=None, client_for=client_for
    )
    [action_id] = proposal.action_ids
    propose_seconds = time.perf_counter() - started
    flows.review(user_id, action_id, client_for=client_for)
    since = time.time()
    start = time.perf_counter()
    ran = flows.approve_and_run(
        user_id,
        action_id,
        approved_row_ids=None,
        typed_count=str(IMPORT_ROWS),
        client_for=client_for,
    )
    seconds = time.perf_counter() - start
    if ran.action is None or ran.action.status != "done":
        print(f"  ! import ended {ran.action.status if ran.action else '?'}: {ran.error}")
    times, limited, served = _phase_log(emulator, since, base)
    phases.append(
        Phase(
            f"import {IMPORT_ROWS:,} (run)",
            IMPORT_ROWS,
            seconds,
            times,
            limited,
            WRITE_LIMIT,
            served,
        )
    )

    total = IMPORT_ROWS + SEED_ITEMS
    for fmt in ("csv", "xlsx"):
        since = time.time()
        start = time.perf_counter()
        exported = exports.export_table(
            user_id,
            exports.ExportRequest(base, TABLE_ITEMS_ID, format=fmt),  # type: ignore[arg-type]
            client_for=client_for,
        )
        seconds = time.perf_counter() - start
        if exported.records != total:
            print(f"  ! {fmt} export wrote {exported.records}, expected {total}")
        times, limited, served = _phase_log(emulator, since, base)
        phases.append(
            Phase(f"export {total:,} ({fmt})", total, seconds, times, limited, READ_LIMIT, served)
        )

    print_table(
        f"Import and export on the emulator at {RATE_LIMIT} req/s per base",
        ["operation", "records", "seconds", "wall rec/s", "sustained", "limit", "share",
         "requests", "429s", "max req/1s"],
        [
            [p.name, p.records, p.seconds, p.per_second, p.sustained, f"{p.limit:.0f}/s",
             f"{p.share:.0%}", p.requests, p.rate_limited, p.max_per_second]
            for p in phases
        ],
    )  # fmt: skip
    print(
        f"\n  before the run: reading the file, converting and proposing {IMPORT_ROWS:,} rows "
        f"took {propose_seconds:.1f} s (incl. the base check and schema read);"
        "\n  share = sustained records/s after the first second's burst / hard limit "
        f"({WRITE_LIMIT}/s for writes of 10, {READ_LIMIT}/s for pages of 100)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
