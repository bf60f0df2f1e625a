"""What the model must write to change every matching record: ids and values, or filters.

Issue 15: "update_records for 500 records makes the model write 13,010 tokens of ids and
values after paging through every match". This measures the tool-call ARGUMENTS the
model generates (output tokens, the slow and costly kind) for "mark every overdue task
Blocked" when 100, 1,000 and 5,000 tasks match, two ways:

* by ids: ``search_records`` page by page (``limit=100``, ``offset=next_offset``) to
  learn the ids, then ``update_records`` with every id and ``{"Status": "Blocked"}``,
  in calls of at most ``MAX_RECORDS_PER_CALL`` records (1,000);
* by filters: one ``update_matching_records`` call with the same filters and fields;
  the app resolves the matching ids itself when it proposes.

The arguments are built as a model sends them (JSON with the usual ", " and ": "
separators) and checked against the tools' own argument models, so they are calls the
registry would accept. Record ids are Airtable-shaped (``rec`` + 14 random letters and
digits, from a fixed seed): random ids cost more tokens than ``recItem0000000001``.
What the model READS while paging (the search results) comes on top for the by-ids way
and is not counted here.

Tokens: ``cl100k`` is exact for OpenAI's cl100k_base (tiktoken with the encoding file
litellm ships, when available offline); ``~c/4`` is the app's own estimate
(`chat.prompts.estimate_tokens`). Verdict: met when the ``update_matching_records``
call stays under 150 tokens at every size (cl100k when available, else the estimate).

Run: ``python -m benchmarks.set_write_tokens``
"""

from __future__ import annotations

import json
import math
import random
import string
from collections.abc import Callable
from typing import Any

from benchmarks.common import exit_cleanly_on_sigterm, offline_defaults, print_table, verdict

SIZES = (100, 1000, 5000)
TARGET_TOKENS = 150
PAGE = 100
TODAY = "2026-12-04"
FILTERS = [
    {"field": "Due", "op": "lt", "value": TODAY},
    {"field": "Status", "op": "neq", "value": "Done"},
]
FIELDS = {"Status": "Blocked"}
_ID_CHARS = string.ascii_letters + string.digits


def record_ids(count: int, seed: int = 15) -> list[str]:
    """Airtable-shaped record ids (``rec`` + 14 characters), the same on every run."""
    rng = random.Random(seed)
    return ["rec" + "".join(rng.choices(_ID_CHARS, k=14)) for _ in range(count)]


def as_sent(arguments: dict[str, Any]) -> str:
    """The arguments as a model writes them."""
    return json.dumps(arguments, ensure_ascii=False)


def by_ids_calls(count: int, max_per_call: int) -> list[tuple[str, dict[str, Any]]]:
    """search_records page by page, then update_records with every id."""
    ids = record_ids(count)
    calls: list[tuple[str, dict[str, Any]]] = []
    pages = math.ceil(count / PAGE)
    for page in range(pages):
        search: dict[str, Any] = {
            "table": "Tasks",
            "filters": FILTERS,
            "fields": ["Name"],
            "limit": PAGE,
        }
        if page:
            # Airtable's offsets look like "itr…/rec…".
            search["offset"] = f"itr{record_ids(1, seed=page)[0][3:]}/{ids[page * PAGE]}"
        calls.append(("search_records", search))
    for start in range(0, count, max_per_call):
        chunk = ids[start : start + max_per_call]
        calls.append(
            (
                "update_records",
                {"table": "Tasks", "records": [{"id": rid, "fields": FIELDS} for rid in chunk]},
            )
        )
    return calls


def by_filters_call() -> tuple[str, dict[str, Any]]:
    """The one call of the set-based tool."""
    return (
        "update_matching_records",
        {"table": "Tasks", "filters": FILTERS, "fields": FIELDS},
    )


def _measure(exact: Callable[[str], int] | None) -> int:
    from pyairtable_ui.chat.prompts import estimate_tokens
    from pyairtable_ui.tools import get_registry
    from pyairtable_ui.tools.arguments import MAX_RECORDS_PER_CALL

    registry = get_registry()

    def tokens(calls: list[tuple[str, dict[str, Any]]]) -> tuple[int, int | None]:
        texts = []
        for name, arguments in calls:
            checked = registry.validate(name, arguments)
            assert not isinstance(checked, list), (name, checked)
            texts.append(as_sent(arguments))
        estimate = sum(estimate_tokens(t) for t in texts)
        return estimate, (sum(exact(t) for t in texts) if exact else None)

    headers = ["matching records", "tool calls", "chars", "tokens~c/4"]
    if exact:
        headers.append("cl100k")
    rows = []
    worst_new = 0
    ratios = []
    for size in SIZES:
        for label, calls in (
            ("by ids", by_ids_calls(size, MAX_RECORDS_PER_CALL)),
            ("by filters", [by_filters_call()]),
        ):
            estimate, counted = tokens(calls)
            chars = sum(len(as_sent(a)) for _, a in calls)
            row: list[Any] = [f"{size:,} {label}", len(calls), chars, estimate]
            if exact:
                row.append(counted)
            rows.append(row)
            figure = counted if counted is not None else estimate
            if label == "by ids":
                old = figure
            else:
                worst_new = max(worst_new, figure)
                ratios.append((size, old, figure))
    print_table(
        '"Mark every overdue task Blocked": tool-call arguments the model writes', headers, rows
    )
    counter = "cl100k" if exact else "the app's c/4 estimate (tiktoken's cl100k file not found)"
    print(f"\n  tokens counted with {counter}.")
    for size, old, new in ratios:
        print(f"  {size:,} matches: {old:,} -> {new:,} tokens ({old / new:,.0f}x fewer)")
    met = worst_new < TARGET_TOKENS
    verdict(
        met,
        f"update_matching_records takes {worst_new} tokens of arguments at any size "
        f"(target < {TARGET_TOKENS}; {counter}); by ids at 5,000: {ratios[-1][1]:,}",
    )
    return 0


def main() -> int:
    """Measure and print; always returns 0 (a measurement, not a gate)."""
    offline_defaults()
    exit_cleanly_on_sigterm()
    from benchmarks.context_size import exact_token_counter

    return _measure(exact_token_counter())


if __name__ == "__main__":
    raise SystemExit(main())
