"""LLM context per turn: tool schemas plus base schema, compact versus a raw schema dump.

Target (PRODUCT.md §6): "the tool schemas plus base schema sent per turn stay compact
(measured in tokens for a 20-table base) and much smaller than a raw schema dump."

A 20-table base with 12 fields per table (selects, multi-selects, links both ways,
numbers, dates, a collaborator...) is loaded into the Airtable emulator, and its schema
is read back through the metadata API, so the "raw" JSON is shaped exactly like
Airtable's answer (choice ids and colours, link options, views). Then the figures:

* raw schema JSON: what a naive app would paste into the prompt;
* compact schema at both detail levels (``fields``, ``names``) from ``render_schema``;
* the system prompt with the schema ``schema_for_prompt`` picks, as a turn sends it;
* all tool schemas (``get_registry().schemas()``) as JSON;
* the total per model call: system prompt + tool schemas.

Tokens are estimated at 4 characters per token (the app's own estimate) and, when
``tiktoken`` and its bundled cl100k_base file are available offline, counted exactly.
A 300-table base checks that ``schema_for_prompt`` stays under its token budget.

Verdict: met when the compact schema the prompt carries is at most 25% of the raw
dump ("much smaller"), the 300-table prompt schema is within budget, and the rules
part of the system prompt stays under the ~400 tokens its module promises.

Run: ``python -m benchmarks.context_size``
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from benchmarks.common import app_settings_env, exit_cleanly_on_sigterm, print_table, verdict
from tests.fakes.airtable_fixtures import emulator_api

BASE_ID = "appBenchContext01"
TOKEN = "patBenchContext01." + "0" * 63 + "9"
TABLE_NAMES = [
    "Customers",
    "Contacts",
    "Deals",
    "Invoices",
    "Payments",
    "Products",
    "Orders",
    "Order Lines",
    "Suppliers",
    "Shipments",
    "Warehouses",
    "Projects",
    "Tasks",
    "Employees",
    "Departments",
    "Campaigns",
    "Leads",
    "Tickets",
    "Meetings",
    "Contracts",
]
# The share of the raw dump the compact schema may take to count as "much smaller".
MAX_COMPACT_SHARE = 0.25
# prompts.py promises the prompt stays "under ~400 tokens without the schema".
MAX_RULES_TOKENS = 400


def _table_name(index: int) -> str:
    if index < len(TABLE_NAMES):
        return TABLE_NAMES[index]
    return f"{TABLE_NAMES[index % len(TABLE_NAMES)]} {index // len(TABLE_NAMES) + 1}"


def _table_id(index: int) -> str:
    return f"tblBench{index:09d}"


def build_seed(table_count: int) -> dict[str, Any]:
    """An emulator seed: one base of `table_count` tables, 12 fields each, no records.

    Table i links to table i+1 ("Next ...") and receives the inverse link from table
    i-1 ("Prev ..."), so every table has a link in both directions.
    """
    tables = []
    for i in range(table_count):
        nxt, prev = (i + 1) % table_count, (i - 1) % table_count
        fields: list[dict[str, Any]] = [
            {"name": "Name", "type": "singleLineText"},
            {
                "name": "Status",
                "type": "singleSelect",
                "options": {"choices": ["Backlog", "Planned", "Active", "Blocked", "Done"]},
            },
            {
                "name": "Tags",
                "type": "multipleSelects",
                "options": {
                    "choices": ["Urgent", "VIP", "Internal", "External", "Q1", "Q2", "Q3", "Q4"]
                },
            },
            {
                "name": "Priority",
                "type": "singleSelect",
                "options": {"choices": ["Low", "Medium", "High"]},
            },
            {"name": "Owner", "type": "singleCollaborator"},
            {"name": "Amount", "type": "currency", "options": {"precision": 2, "symbol": "$"}},
            {"name": "Quantity", "type": "number", "options": {"precision": 0}},
            {"name": "Due Date", "type": "date"},
            {"name": "Notes", "type": "multilineText"},
            {"name": "Done", "type": "checkbox"},
            {
                "name": f"Next {_table_name(nxt)}",
                "type": "multipleRecordLinks",
                "options": {
                    "linkedTableId": _table_id(nxt),
                    "inverseLinkFieldId": f"Prev {_table_name(i)}",
                },
            },
            {
                "name": f"Prev {_table_name(prev)}",
                "type": "multipleRecordLinks",
                "options": {
                    "linkedTableId": _table_id(prev),
                    "inverseLinkFieldId": f"Next {_table_name(i)}",
                },
            },
        ]
        tables.append(
            {
                "id": _table_id(i),
                "name": _table_name(i),
                "fields": [
                    {"id": f"fldB{i:05d}x{n:06d}", **spec} for n, spec in enumerate(fields, 1)
                ],
                "views": [
                    {"id": f"viwBench{i:05d}001", "name": "Grid view", "type": "grid"},
                    {"id": f"viwBench{i:05d}002", "name": "Open", "type": "grid"},
                ],
                "records": [],
            }
        )
    return {
        "tokens": [
            {
                "token": TOKEN,
                "user_id": "usrBenchContext01",
                "email": "bench@example.com",
                "name": "Bench",
                "bases": [BASE_ID],
                "scopes": ["data.records:read", "data.records:write", "schema.bases:read"],
            }
        ],
        "bases": [
            {
                "id": BASE_ID,
                "name": "Benchmark Base",
                "permission_level": "create",
                "tables": tables,
            }
        ],
    }


def fetch_raw_schema(table_count: int) -> dict[str, Any]:
    """Airtable's metadata answer for a generated base, read from the emulator."""
    from pyairtable_ui.emulator import AirtableEmulator

    with AirtableEmulator(build_seed(table_count), rate_limit=0) as emulator:
        api = emulator_api(emulator, TOKEN)
        data: dict[str, Any] = api.request("get", api.build_url("meta", "bases", BASE_ID, "tables"))
    assert len(data["tables"]) == table_count
    return data


def exact_token_counter() -> Callable[[str], int] | None:
    """cl100k_base token counting, if tiktoken can load it without the network.

    litellm ships the encoding file; tiktoken finds it through TIKTOKEN_CACHE_DIR. If
    the file is not there, tiktoken would try to download it, so it is not called.
    """
    try:
        import tiktoken
    except ImportError:
        return None
    spec = find_spec("litellm")
    if spec is None or spec.origin is None:
        return None
    cache = Path(spec.origin).parent / "litellm_core_utils" / "tokenizers"
    # tiktoken names cached files by the SHA-1 of their URL; this is cl100k_base's.
    if not (cache / "9b5ad71b2ce5302211f9c61530b329a4922fc6a4").exists():
        return None
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache))
    try:
        encoding = tiktoken.get_encoding("cl100k_base")
    except Exception:  # a broken cache must not stop the estimate-only figures
        return None
    return lambda text: len(encoding.encode(text))


def main() -> int:
    """Measure and print; always returns 0 (a measurement, not a gate)."""
    exit_cleanly_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="pyairtable-ui-bench-") as tmp:
        app_settings_env(
            database_url=f"sqlite:///{Path(tmp) / 'unused.db'}",
            airtable_url="http://127.0.0.1:9",
            APP_ENV="test",
        )
        return _measure()


def _measure() -> int:
    from pyairtable_ui.airtable.schema import BaseSchema, estimate_tokens, schema_for_prompt
    from pyairtable_ui.airtable.schema import render_schema as render
    from pyairtable_ui.chat.prompts import build_system_prompt
    from pyairtable_ui.tools import get_registry

    exact = exact_token_counter()
    started = time.monotonic()
    raw = fetch_raw_schema(20)
    schema = BaseSchema.from_api(BASE_ID, raw, time.time())
    fields = sum(len(t.fields) for t in schema.tables)

    raw_text = json.dumps(raw, separators=(",", ":"))
    compact_fields = render(schema, detail="fields")
    compact_names = render(schema, detail="names")
    in_prompt = schema_for_prompt(schema)
    prompt = build_system_prompt(base_name="Benchmark Base", base_id=BASE_ID, schema_text=in_prompt)
    rules_only = build_system_prompt(base_name="Benchmark Base", base_id=BASE_ID, schema_text="")
    tools_text = json.dumps(get_registry().schemas(), separators=(",", ":"))
    tool_count = len(get_registry().schemas())
    per_turn = prompt + tools_text
    naive_turn = rules_only + raw_text + tools_text

    rows: list[list[Any]] = []
    texts = [
        ("raw schema JSON (Airtable's answer)", raw_text),
        ("compact schema, detail=fields", compact_fields),
        ("compact schema, detail=names", compact_names),
        ("system prompt without schema", rules_only),
        ("system prompt with schema (as sent)", prompt),
        (f"tool schemas ({tool_count} tools, JSON)", tools_text),
        ("TOTAL per model call: prompt + tools", per_turn),
        ("naive: prompt + raw schema + tools", naive_turn),
    ]
    for label, text in texts:
        row: list[Any] = [label, len(text), estimate_tokens(text)]
        if exact is not None:
            row.append(exact(text))
        rows.append(row)
    headers = ["20 tables x 12 fields", "chars", "tokens~c/4"]
    if exact is not None:
        headers.append("cl100k")
    print_table(f"LLM context for a 20-table base ({fields} fields)", headers, rows)

    share = estimate_tokens(in_prompt) / estimate_tokens(raw_text)
    share_fields = estimate_tokens(compact_fields) / estimate_tokens(raw_text)
    share_names = estimate_tokens(compact_names) / estimate_tokens(raw_text)
    print(
        f"\n  compact/raw: fields {share_fields:.1%}, names {share_names:.1%}; "
        f"the prompt carries detail="
        f"{'fields' if in_prompt == compact_fields else 'names or less'} ({share:.1%} of raw)."
    )
    print(
        f"  per model call {estimate_tokens(per_turn):,} tokens vs "
        f"{estimate_tokens(naive_turn):,} with a raw dump "
        f"({estimate_tokens(per_turn) / estimate_tokens(naive_turn):.0%})."
    )

    big = BaseSchema.from_api(BASE_ID, fetch_raw_schema(300), time.time())
    budget = 2500
    big_text = schema_for_prompt(big, budget_tokens=budget)
    big_raw = json.dumps(big.raw, separators=(",", ":"))
    first_line = big_text.splitlines()[0]
    big_rows: list[list[Any]] = [
        ["raw schema JSON", estimate_tokens(big_raw)],
        ["render_schema detail=fields", estimate_tokens(render(big, detail="fields"))],
        ["render_schema detail=names", estimate_tokens(render(big, detail="names"))],
        ["schema_for_prompt (as sent)", estimate_tokens(big_text)],
        ["budget of schema_for_prompt", budget],
    ]
    print_table("300-table base (3,600 fields)", ["300 tables", "tokens~c/4"], big_rows)
    print(f'  schema_for_prompt starts with: "{first_line}"')
    print(f"\n  ({time.monotonic() - started:.1f} s)")

    within_budget = estimate_tokens(big_text) <= budget
    rules_ok = estimate_tokens(rules_only) <= MAX_RULES_TOKENS
    met = share <= MAX_COMPACT_SHARE and within_budget and rules_ok
    verdict(
        met,
        f"20-table base: {estimate_tokens(per_turn):,} tokens per model call "
        f"(schema {estimate_tokens(in_prompt):,} = {share:.0%} of the raw "
        f"{estimate_tokens(raw_text):,}; target <= {MAX_COMPACT_SHARE:.0%}); "
        f"prompt rules {estimate_tokens(rules_only)} (<= {MAX_RULES_TOKENS}); "
        f"300 tables: {estimate_tokens(big_text):,} <= budget {budget:,}: "
        f"{'yes' if within_budget else 'NO'}.",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
