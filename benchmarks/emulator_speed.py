"""How fast the Airtable emulator itself is, unpaced: it must outrun Airtable's limits.

The throughput benchmarks measure the app against the emulator's 5 requests/s per base.
Those figures mean something only if the emulator answers far faster than that when it
is not pacing: this prints its own speed on a 1,000-record table, as ratios to Airtable's
limits (5 requests/s, 50 records/s written, 500 records/s read).

* a filtered, sorted listing of 1,000 records inside the emulator (median of 7);
* 100 PATCH requests of 10 records each, through pyairtable over loopback;
* reading the 1,000 records back (10 pages).

Verdict: met when writes and reads are at least 10x Airtable's limits.

Run: ``python -m benchmarks.emulator_speed``
"""

from __future__ import annotations

import statistics
import time

from benchmarks.common import exit_cleanly_on_sigterm, print_table, verdict
from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TOKEN_FULL, build_seed
from pyairtable_ui.emulator.state import ListQuery
from tests.fakes.airtable_fixtures import emulator_api

AIRTABLE_WRITES_PER_SECOND = 50  # 5 requests/s x 10 records
AIRTABLE_READS_PER_SECOND = 500  # 5 requests/s x 100 records


def main() -> None:
    exit_cleanly_on_sigterm()
    emulator = AirtableEmulator(build_seed(big_table_records=1000), rate_limit=0).start()
    try:
        query = ListQuery(
            formula="AND({Group} = 'B', {Even} = FALSE(), MOD({Index}, 3) = 0, FIND('9', {Name}))",
            sort=[("Index", "desc")],
        )
        timings = []
        for _ in range(7):
            started = time.perf_counter()
            emulator.state.list_records(BASE_PROJECTS_ID, "Items", query)
            timings.append(time.perf_counter() - started)
        table = emulator_api(emulator, TOKEN_FULL).table(BASE_PROJECTS_ID, "Items")
        ids = [r["id"] for r in table.all(fields=["Name"])]
        started = time.perf_counter()
        table.batch_update([{"id": rid, "fields": {"Index": -1}} for rid in ids])
        written = len(ids) / (time.perf_counter() - started)
        started = time.perf_counter()
        read = len(table.all()) / (time.perf_counter() - started)
    finally:
        emulator.stop()

    print_table(
        "Emulator speed, unpaced (1,000 records)",
        ["measure", "value", "x Airtable's limit"],
        [
            [
                "filtered, sorted listing (median of 7)",
                f"{statistics.median(timings) * 1000:.1f} ms",
                "-",
            ],
            [
                "records written per second",
                f"{written:.0f}",
                f"{written / AIRTABLE_WRITES_PER_SECOND:.1f}",
            ],
            ["records read per second", f"{read:.0f}", f"{read / AIRTABLE_READS_PER_SECOND:.1f}"],
        ],
    )
    verdict(
        written >= 10 * AIRTABLE_WRITES_PER_SECOND and read >= 10 * AIRTABLE_READS_PER_SECOND,
        "the emulator outruns Airtable's limits tenfold, so paced figures are the app's own",
    )


if __name__ == "__main__":
    main()
