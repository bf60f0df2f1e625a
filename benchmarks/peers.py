"""Peer comparison: airtable-mcp-server and this app on the same rate-limited emulator.

Issue 15 asks for the figures side by side: a 1,000-record read, 500 updates and 500
creates, against the Airtable emulator run with Airtable's real limit (5 requests/s per
base) and its 30-second penalty.

* The peer is `airtable-mcp-server` from the npm registry, installed by
  ``scripts/benchmark_peers.sh`` (``make benchmark-peers``) into ``.tools/peers``. It has
  no base-URL setting, so node preloads ``benchmarks/peers_fetch.mjs``, which sends only
  its requests to ``https://api.airtable.com`` to the loopback emulator. It is driven as
  a model would drive it, over MCP's stdio transport (JSON-RPC lines): ``list_records``
  once for the whole table, ``update_records`` 50 times with 10 records each, and
  ``create_record`` 500 times, each call sent as soon as the previous one answered.
* Ours runs the same work through its own code: ``AirtableClient.iterate_records`` for
  the read, and one approved action each (``execute_action``, batches of 10, undo
  snapshots and step records included) for the updates and the creates.

Before each operation the emulator forgets earlier windows and penalties, so neither
side inherits the other's. Printed per operation: records done out of asked, requests
the emulator saw, 429 answers, seconds. Not a gate: exits 0 whether or not anything
failed; the peer missing is reported as SKIPPED.

Run: ``make benchmark-peers`` (or ``python -m benchmarks.peers`` once installed;
``PEERS_DIR`` names another install folder).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import (
    ROOT,
    app_settings_env,
    exit_cleanly_on_sigterm,
    migrate,
    offline_defaults,
    print_table,
    verdict,
)

RATE_LIMIT = 5
PENALTY_SECONDS = 30.0
READ_RECORDS = 1000
WRITE_RECORDS = 500
PEER = "airtable-mcp-server"
CALL_TIMEOUT = 120.0


def peers_dir() -> Path:
    """Where `scripts/benchmark_peers.sh` installed the peers."""
    return Path(os.environ.get("PEERS_DIR") or ROOT / ".tools" / "peers")


@dataclass
class Outcome:
    """One side's result for one operation."""

    who: str
    operation: str
    asked: int
    done: int
    requests: int
    rate_limited: int
    seconds: float
    note: str = ""


class McpServer:
    """A peer MCP server on stdio: one JSON-RPC request at a time."""

    def __init__(self, main_js: Path, emulator_url: str, token: str) -> None:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "AIRTABLE_API_KEY": token,
            "PEER_AIRTABLE_URL": emulator_url,
        }
        loader = (ROOT / "benchmarks" / "peers_fetch.mjs").as_uri()
        self._proc = subprocess.Popen(
            ["node", "--import", loader, str(main_js)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        self._next_id = 0
        self.request(
            "initialize",
            {
                "protocolVersion": "2025-03-26",
                "capabilities": {},
                "clientInfo": {"name": "pyairtable-ui-benchmark", "version": "1"},
            },
        )
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _send(self, message: dict[str, Any]) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(message) + "\n")
        self._proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send one request and return its result (or ``{"error": ...}``)."""
        self._next_id += 1
        self._send({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        assert self._proc.stdout is not None
        deadline = time.monotonic() + CALL_TIMEOUT
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{PEER} exited")
            message = json.loads(line)
            if message.get("id") == self._next_id:
                return message.get("result") or {"error": message.get("error")}
        raise TimeoutError(method)

    def call(self, tool: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
        """Call a tool; (succeeded, structured result or error text)."""
        result = self.request("tools/call", {"name": tool, "arguments": arguments})
        if result.get("error") or result.get("isError"):
            content = result.get("content") or [{"text": str(result.get("error"))}]
            return False, str(content[0].get("text", ""))[:200]
        return True, result.get("structuredContent") or {}

    def close(self) -> None:
        """Stop the server process."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _requests_since(emulator: Any, since: float, base_id: str) -> tuple[int, int]:
    log = [r for r in emulator.stats()["requests"] if r["t"] >= since and r.get("base") == base_id]
    return len(log), sum(1 for r in log if r["status"] == 429)


def _measured(emulator: Any, base_id: str, run: Any) -> tuple[Any, int, int, float]:
    """Run `run()` on a fresh limiter; its result, requests, 429s and seconds."""
    emulator.limiter.reset()
    since = time.time()
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    requests, limited = _requests_since(emulator, since, base_id)
    return result, requests, limited, seconds


def run_peer(emulator: Any, main_js: Path, ids: list[str]) -> list[Outcome]:
    """The peer's read, updates and creates."""
    from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TABLE_ITEMS_ID, TOKEN_FULL

    base, table = BASE_PROJECTS_ID, TABLE_ITEMS_ID
    server = McpServer(main_js, emulator.url, TOKEN_FULL)
    outcomes = []
    try:

        def read() -> tuple[int, str]:
            ok, result = server.call("list_records", {"baseId": base, "tableId": table})
            return (len(result.get("records") or []), "") if ok else (0, result)

        (done, note), requests, limited, seconds = _measured(emulator, base, read)
        outcomes.append(Outcome(PEER, "read 1,000", READ_RECORDS, done, requests, limited,
                                seconds, note))  # fmt: skip

        def update() -> tuple[int, str]:
            done, note = 0, ""
            for start in range(0, WRITE_RECORDS, 10):
                records = [
                    {"id": rid, "fields": {"Index": 30_000 + start + n}}
                    for n, rid in enumerate(ids[start : start + 10])
                ]
                ok, result = server.call(
                    "update_records", {"baseId": base, "tableId": table, "records": records}
                )
                if ok:
                    done += len(records)
                else:
                    note = note or result
            return done, note

        (done, note), requests, limited, seconds = _measured(emulator, base, update)
        outcomes.append(Outcome(PEER, "update 500", WRITE_RECORDS, done, requests, limited,
                                seconds, note))  # fmt: skip

        def create() -> tuple[int, str]:
            done, note = 0, ""
            for n in range(WRITE_RECORDS):
                ok, result = server.call(
                    "create_record",
                    {"baseId": base, "tableId": table, "fields": {"Name": f"Peer {n:04d}"}},
                )
                if ok:
                    done += 1
                else:
                    note = note or result
            return done, note

        (done, note), requests, limited, seconds = _measured(emulator, base, create)
        outcomes.append(Outcome(PEER, "create 500", WRITE_RECORDS, done, requests, limited,
                                seconds, note))  # fmt: skip
    finally:
        server.close()
    return outcomes


def run_ours(emulator: Any, ids: list[str]) -> list[Outcome]:
    """The same three operations through the app's client and action pipeline."""
    from benchmarks.airtable_throughput import _make_user, _write_phase
    from pyairtable_ui.airtable.client import AirtableClient
    from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TABLE_ITEMS_ID, TOKEN_FULL

    base = BASE_PROJECTS_ID
    client = AirtableClient(TOKEN_FULL, api_url=emulator.url)

    def read() -> int:
        return sum(len(page) for page in client.iterate_records(base, TABLE_ITEMS_ID))

    done, requests, limited, seconds = _measured(emulator, base, read)
    outcomes = [Outcome("this app", "read 1,000", READ_RECORDS, done, requests, limited, seconds)]
    user_id = _make_user()
    for op, label in (("update", "update 500"), ("create", "create 500")):
        emulator.limiter.reset()
        phase, written = _write_phase(emulator, base, user_id, op, ids if op == "update" else [])
        outcomes.append(
            Outcome("this app", label, WRITE_RECORDS, len(written), phase.requests,
                    phase.rate_limited, phase.seconds)
        )  # fmt: skip
    return outcomes


def main() -> int:
    """Run both sides; always returns 0 (a measurement, not a gate)."""
    offline_defaults()
    exit_cleanly_on_sigterm()
    main_js = peers_dir() / "node_modules" / PEER / "dist" / "main.js"
    if not main_js.exists():
        print(f"SKIPPED: {PEER} is not installed in {peers_dir()} (make benchmark-peers)")
        return 0
    from pyairtable_ui.emulator import AirtableEmulator
    from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TABLE_ITEMS_ID, build_seed

    with (
        tempfile.TemporaryDirectory(prefix="pyairtable-ui-peers-") as tmp,
        AirtableEmulator(
            build_seed(big_table_records=READ_RECORDS),
            rate_limit=RATE_LIMIT,
            penalty_seconds=PENALTY_SECONDS,
        ) as emulator,
    ):
        url = f"sqlite:///{Path(tmp) / 'peers.db'}"
        app_settings_env(
            database_url=url,
            airtable_url=emulator.url,
            APP_ENV="test",
            AIRTABLE_REQUESTS_PER_SECOND=str(RATE_LIMIT),
        )
        migrate(url)
        records = emulator.state.records(BASE_PROJECTS_ID, TABLE_ITEMS_ID)
        ids = [str(r["id"]) for r in records][:WRITE_RECORDS]
        started = time.monotonic()
        ours = run_ours(emulator, ids)
        # The peer starts on a fresh penalty-free base too (reset inside each measure).
        peer = run_peer(emulator, main_js, ids)
        rows = [
            [o.who, o.operation, f"{o.done:,}/{o.asked:,}", o.requests, o.rate_limited,
             o.seconds, o.note[:70]]
            for o in [*ours, *peer]
        ]  # fmt: skip
        print_table(
            f"Same emulator, {RATE_LIMIT} req/s per base, {PENALTY_SECONDS:.0f} s penalty",
            ["who", "operation", "records", "requests", "429s", "seconds", "first error"],
            rows,
        )
        print(f"\n  ({time.monotonic() - started:.0f} s)")
    complete = all(o.done == o.asked and o.rate_limited == 0 for o in ours)
    verdict(
        complete,
        "this app: "
        + ", ".join(f"{o.operation} {o.done}/{o.asked} ({o.rate_limited} x 429)" for o in ours)
        + f"; {PEER}: "
        + ", ".join(f"{o.operation} {o.done}/{o.asked} ({o.rate_limited} x 429)" for o in peer)
        + ".",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
