"""Read tools over records: search_records, get_record, aggregate.

Results are compact JSON for the model and a small table for the UI. They are
honest about size: `more_available` says when a page is not the end, `total` is
exact only when it is known (the last page, or counted when the model asks with
`count_total`, up to a cap), else "at least"; aggregates read every page and are
reused for a short while (see `airtable.aggregate_cache`). Linked records show
their primary-field value next to the id, e.g. "Acme Corp (recCompany0000001)",
fetched with one List request per linked table and remembered for the turn.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from typing import Any

from pyairtable_ui.airtable.aggregate_cache import entry_key, get_aggregate_cache
from pyairtable_ui.airtable.formulas import F, chunked
from pyairtable_ui.airtable.schema import BaseSchema, FieldSchema, TableSchema
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.tools.arguments import (
    AggregateArguments,
    GetRecordArguments,
    SearchRecordsArguments,
)
from pyairtable_ui.tools.filters import build_formula
from pyairtable_ui.tools.registry import Tool, ToolContext, ToolInputError, ToolResult

MAX_CELL_CHARS = 500  # long text is cut here so one record cannot flood the context
DISPLAY_ROWS = 50  # rows sent to the UI table
COUNT_PAGE_LIMIT = 10  # exact totals up to 1,000 matches (10 light requests, ~2 s at 5/s)
MAX_LINKED_IDS = 1000  # linked ids resolved to names per call; beyond, bare ids
MAX_GROUPS = 50  # groups listed by aggregate


def dumps(value: Any) -> str:
    """Compact JSON for the model (no spaces, non-ASCII kept: fewer tokens)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _cut(text: str) -> str:
    if len(text) <= MAX_CELL_CHARS:
        return text
    return text[:MAX_CELL_CHARS] + f"…(+{len(text) - MAX_CELL_CHARS} chars)"


# --- linked records ---------------------------------------------------------------


def _plain(value: Any) -> str:
    """A cell value as short plain text (for primary values and group keys)."""
    if value is None:
        return ""
    if isinstance(value, dict):
        for key in ("name", "email", "label", "value", "filename", "error"):
            if value.get(key):
                return str(value[key])
        return ""
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value if v is not None)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def linked_names(
    ctx: ToolContext,
    schema: BaseSchema,
    fields: Iterable[FieldSchema],
    records: Iterable[dict[str, Any]],
) -> dict[str, str]:
    """Primary-field values of the records linked from `records`, by record id.

    One List request (filtered by RECORD_ID(), primary field only) per linked
    table and 100 ids; names already fetched this turn are not fetched again.

    Args:
        ctx: The turn's context (its `turn_cache` keeps the names).
        schema: The base schema.
        fields: The link fields to resolve.
        records: Records as Airtable returned them.

    Returns:
        Record id -> primary value (ids that no longer exist are left out).
    """
    known: dict[str, dict[str, str | None]] = ctx.turn_cache.setdefault("linked_names", {})
    wanted: dict[str, list[str]] = {}
    link_fields = [f for f in fields if f.linked_table_id]
    records = list(records)
    for f in link_fields:
        table_id = str(f.linked_table_id)
        cache = known.setdefault(table_id, {})
        for record in records:
            for rid in record.get("fields", {}).get(f.name) or []:
                if isinstance(rid, str) and rid not in cache:
                    wanted.setdefault(table_id, [])
                    if rid not in wanted[table_id]:
                        wanted[table_id].append(rid)
    budget = MAX_LINKED_IDS
    for table_id, ids in wanted.items():
        linked = schema.table_by_id(table_id)
        if linked is None or budget <= 0:
            continue
        ids = ids[:budget]
        budget -= len(ids)
        primary = linked.primary_field
        cache = known[table_id]
        for chunk in chunked(ids, 100):
            conditions = [F.EQ(F.RECORD_ID(), rid) for rid in chunk]
            formula = conditions[0] if len(conditions) == 1 else F.OR(*conditions)
            for page in ctx.client.iterate_records(
                schema.base_id, table_id, formula=str(formula), fields=[primary.name]
            ):
                for record in page:
                    cache[record["id"]] = _plain(record.get("fields", {}).get(primary.name))
            for rid in chunk:
                cache.setdefault(rid, None)  # deleted or hidden: shown as a bare id
    names: dict[str, str] = {}
    for table_cache in known.values():
        for rid, name in table_cache.items():
            if name is not None:
                names[rid] = name
    return names


# --- cell rendering ---------------------------------------------------------------


def cell_value(f: FieldSchema | None, value: Any, names: dict[str, str]) -> Any:
    """A cell as the model should read it: linked records by name, text cut, files by name.

    Args:
        f: The field (None when the schema does not know it).
        value: The value Airtable returned.
        names: Primary values of linked records, by id.

    Returns:
        A JSON-ready value.
    """
    field_type = f.type if f else ""
    if field_type == "multipleRecordLinks" and isinstance(value, list):
        return [f"{names[r]} ({r})" if r in names else r for r in value]
    if field_type == "multipleAttachments" and isinstance(value, list):
        return [str(a.get("filename") or a.get("url") or "file") for a in value]
    if isinstance(value, dict):
        return _cut(_plain(value))
    if isinstance(value, list):
        return [_cut(_plain(v)) if isinstance(v, dict) else v for v in value]
    if isinstance(value, str):
        return _cut(value)
    return value


def _display_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else ""
    return str(value)


def render_records(
    ctx: ToolContext, schema: BaseSchema, table: TableSchema, records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Records as the model reads them: ``{"id", "fields"}`` with linked names."""
    present = {name for r in records for name in r.get("fields", {})}
    link_fields = [f for f in table.fields if f.linked_table_id and f.name in present]
    names = linked_names(ctx, schema, link_fields, records) if link_fields else {}
    by_name = {f.name: f for f in table.fields}
    rendered = []
    for record in records:
        fields = {
            name: cell_value(by_name.get(name), value, names)
            for name, value in (record.get("fields") or {}).items()
        }
        rendered.append({"id": record.get("id"), "fields": fields})
    return rendered


def records_display(
    table: TableSchema,
    rendered: list[dict[str, Any]],
    *,
    columns: list[str] | None = None,
    total: int | None = None,
    more_available: bool = False,
) -> dict[str, Any]:
    """The UI's table: at most `DISPLAY_ROWS` rows of display text."""
    if columns is None:
        present = {name for r in rendered for name in r["fields"]}
        columns = [f.name for f in table.fields if f.name in present]
    rows = [
        {"id": r["id"], "cells": {c: _display_text(r["fields"].get(c)) for c in columns}}
        for r in rendered[:DISPLAY_ROWS]
    ]
    return {
        "kind": "records",
        "table": table.name,
        "columns": columns,
        "rows": rows,
        "total": total,
        "more_available": more_available,
    }


# --- search_records ---------------------------------------------------------------


def _query_options(
    ctx: ToolContext, table: TableSchema, args: SearchRecordsArguments | AggregateArguments
) -> dict[str, Any]:
    """pyairtable options for the filters and view in `args`."""
    options: dict[str, Any] = {}
    formula = build_formula(
        table,
        args.filters,
        match=args.match,
        resolve_field=lambda ref: ctx.resolve_field(table, ref),
    )
    if formula is not None:
        options["formula"] = str(formula)
    if args.view:
        view = table.find_view(args.view)
        if view is None:
            names = ", ".join(f'"{v.get("name")}"' for v in table.views) or "none"
            raise ToolInputError(f'Table "{table.name}" has no view "{args.view}". Views: {names}.')
        options["view"] = view.get("id") or view.get("name")
    return options


def count_matching(
    ctx: ToolContext, table: TableSchema, options: dict[str, Any]
) -> tuple[int, bool]:
    """How many records match, reading only the primary field, 100 per request.

    Returns:
        (count, exact): exact is False when `COUNT_PAGE_LIMIT` pages were not enough.
    """
    base_id = ctx.require_base()
    count = 0
    page_options: dict[str, Any] = {
        **options,
        "fields": [table.primary_field.name],
        "page_size": 100,
    }
    for _ in range(COUNT_PAGE_LIMIT):
        ctx.client.check_cancelled()
        page = ctx.client.list_records_page(base_id, table.id, **page_options)
        count += len(page.get("records") or [])
        if not page.get("offset"):
            return count, True
        page_options["offset"] = page["offset"]
    return count, False


def search_records(ctx: ToolContext, args: SearchRecordsArguments) -> ToolResult:
    """List records matching structured filters, one page at a time, with an honest total."""
    schema = ctx.schema()
    table = ctx.resolve_table(args.table)
    base_id = ctx.require_base()
    options = _query_options(ctx, table, args)
    fields = [ctx.resolve_field(table, name).name for name in args.fields]
    sort = [
        ("-" if s.direction == "desc" else "") + ctx.resolve_field(table, s.field).name
        for s in args.sort
    ]
    page_options: dict[str, Any] = {**options, "page_size": args.limit}
    if fields:
        page_options["fields"] = fields
    if sort:
        page_options["sort"] = sort
    if args.offset:
        page_options["offset"] = args.offset
    page = ctx.client.list_records_page(base_id, table.id, **page_options)
    records = list(page.get("records") or [])
    next_offset = page.get("offset")
    more = bool(next_offset)

    # The table's id and primary field let the chat show a few records as cards that
    # link to them in Airtable (a few tokens; the model may use the id too).
    result: dict[str, Any] = {
        "table": table.name,
        "table_id": table.id,
        "primary_field": table.primary_field.name,
    }
    total: int | None = None
    if not more and not args.offset:
        total = len(records)
        result["total"] = total
    elif args.count_total:
        counted, exact = count_matching(ctx, table, options)
        total = counted if exact else None
        result["total" if exact else "total_at_least"] = counted
    elif more and not args.offset:
        # Counting costs a request per 100 matches: a model paging through all of them
        # would pay twice. Only asked for (count_total) or with aggregate.
        result["total_at_least"] = len(records)
    rendered = render_records(ctx, schema, table, records)
    ctx.read_record_text = ctx.read_record_text or bool(records)
    result["returned"] = len(records)
    result["more_available"] = more
    if more:
        result["next_offset"] = next_offset
        result["how_to_continue"] = (
            "Call search_records again with the same arguments and offset=next_offset. "
            "Exact total: count_total=true. Counts or sums over all matches: aggregate."
        )
    result["records"] = rendered
    display = records_display(
        table, rendered, columns=fields or None, total=total, more_available=more
    )
    return ToolResult(dumps(result), display=display)


def get_record(ctx: ToolContext, args: GetRecordArguments) -> ToolResult:
    """One record with every field."""
    schema = ctx.schema()
    table = ctx.resolve_table(args.table)
    record = ctx.client.request("GET", ctx.require_base(), table.id, args.record_id)
    rendered = render_records(ctx, schema, table, [record])[0]
    rendered["createdTime"] = record.get("createdTime")
    ctx.read_record_text = True
    return ToolResult(
        dumps(
            {
                "table": table.name,
                "table_id": table.id,
                "primary_field": table.primary_field.name,
                **rendered,
            }
        ),
        display=records_display(table, [rendered], total=1),
    )


# --- aggregate --------------------------------------------------------------------


def _numbers(value: Any) -> list[float] | None:
    """The numbers in a cell (lookups hold lists); None when it holds something else."""
    if value is None:
        return []
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return [float(value)] if math.isfinite(value) else None
    if isinstance(value, list):
        out: list[float] = []
        for item in value:
            inner = _numbers(item)
            if inner is None:
                return None
            out += inner
        return out
    return None


def _comparables(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [v for item in value for v in _comparables(item)]
    if isinstance(value, dict):
        text = _plain(value)
        return [text] if text else []
    return [value]


class _Accumulator:
    def __init__(self) -> None:
        self.records = 0
        self.values = 0
        self.total = 0.0
        self.minimum: Any = None
        self.maximum: Any = None
        self.skipped = 0

    def add(self, op: str, value: Any, counting_field: bool) -> None:
        self.records += 1
        if op == "count":
            if not counting_field or _comparables(value):
                self.values += 1
            return
        if op in ("sum", "avg"):
            numbers = _numbers(value)
            if numbers is None:
                self.skipped += 1
                return
            self.values += len(numbers)
            self.total += sum(numbers)
            return
        for item in _comparables(value):
            numbers = _numbers(item)
            key: Any = numbers[0] if numbers else str(item)
            try:
                if self.minimum is None or key < self.minimum:
                    self.minimum = key
                if self.maximum is None or key > self.maximum:
                    self.maximum = key
            except TypeError:
                self.skipped += 1  # numbers and text mixed in one field
                continue
            self.values += 1

    def result(self, op: str) -> Any:
        if op == "count":
            return self.values
        if op == "sum":
            return _round(self.total)
        if op == "avg":
            return _round(self.total / self.values) if self.values else None
        return _round(self.minimum if op == "min" else self.maximum)


def _round(value: Any) -> Any:
    if isinstance(value, float):
        rounded = round(value, 6)
        return int(rounded) if rounded.is_integer() else rounded
    return value


def _group_keys(f: FieldSchema, value: Any, names: dict[str, str]) -> list[str]:
    if value is None or value == "" or value == []:
        return ["(empty)"]
    if f.type == "multipleRecordLinks" and isinstance(value, list):
        return [names.get(str(r), str(r)) for r in value]
    if isinstance(value, list):
        # Multiple selects and lookups: the record counts in each of its groups.
        return [_plain(v) for v in value] or ["(empty)"]
    if isinstance(value, bool):
        return ["checked" if value else "(empty)"]
    return [_plain(value)]


def aggregate(ctx: ToolContext, args: AggregateArguments) -> ToolResult:
    """count / sum / min / max / avg over every matching record, optionally grouped."""
    schema = ctx.schema()
    table = ctx.resolve_table(args.table)
    base_id = ctx.require_base()
    op = args.op
    target = ctx.resolve_field(table, args.field) if args.field else None
    if target is None and op != "count":
        raise ToolInputError(f"aggregate with op {op} needs a field (a number or date field).")
    group = ctx.resolve_field(table, args.group_by) if args.group_by else None
    options = _query_options(ctx, table, args)

    cache = ctx.aggregate_cache if ctx.aggregate_cache is not None else get_aggregate_cache()
    ttl = float(get_settings().aggregate_cache_seconds)
    key = entry_key(
        # Who may read what (user and token), which Airtable, and the whole question.
        user=ctx.user_id,
        token=ctx.client.token_fingerprint,
        airtable=ctx.client.api.endpoint_url,
        table=table.id,
        op=op,
        field=target.id if target else None,
        group_by=group.id if group else None,
        options=options,
    )
    cached, generation = cache.lookup(base_id, key) if ttl > 0 else (None, -1)
    if cached is not None:
        ctx.read_record_text = ctx.read_record_text or bool(cached["read_record_text"])
        content = json.loads(cached["content"])
        content["computed_seconds_ago"] = max(0, round(time.time() - cached["computed_at"]))
        return ToolResult(dumps(content), display=cached["display"])
    outcome, read_text = _aggregate_all(ctx, schema, table, op, target, group, options)
    ctx.read_record_text = ctx.read_record_text or read_text
    if ttl > 0:
        entry = {
            "content": outcome.content,
            "display": outcome.display,
            "read_record_text": read_text,
            "computed_at": time.time(),
        }
        cache.put(base_id, key, entry, generation=generation, ttl=ttl)
    return outcome


def _aggregate_all(
    ctx: ToolContext,
    schema: BaseSchema,
    table: TableSchema,
    op: str,
    target: FieldSchema | None,
    group: FieldSchema | None,
    options: dict[str, Any],
) -> tuple[ToolResult, bool]:
    """Read every matching record and compute the aggregate (see `aggregate`).

    Returns:
        The result, and whether it shows text from the base (group names, a min/max
        of text), which `ToolContext.read_record_text` must learn.
    """
    base_id = ctx.require_base()
    wanted = [f.name for f in (target, group) if f is not None]
    fields = list(dict.fromkeys(wanted)) or [table.primary_field.name]

    overall = _Accumulator()
    groups: dict[str, _Accumulator] = {}
    group_records: list[dict[str, Any]] = []
    scanned = 0
    for page in ctx.client.iterate_records(base_id, table.id, fields=fields, **options):
        for record in page:
            scanned += 1
            cells = record.get("fields") or {}
            value = cells.get(target.name) if target else None
            overall.add(op, value, target is not None)
            if group is not None:
                group_records.append({"fields": {group.name: cells.get(group.name)}, "v": value})
    result: dict[str, Any] = {
        "table": table.name,
        "op": op,
        "field": target.name if target else None,
        "records_matched": scanned,
    }
    if group is None:
        result["value"] = overall.result(op)
        read_text = isinstance(result["value"], str)
    else:
        names = linked_names(ctx, schema, [group], group_records) if group.linked_table_id else {}
        multi_valued = False
        for item in group_records:
            keys = _group_keys(group, item["fields"][group.name], names)
            multi_valued = multi_valued or len(keys) > 1
            for key in keys:
                groups.setdefault(key, _Accumulator()).add(op, item["v"], target is not None)
        ordered = sorted(
            groups.items(),
            key=lambda kv: (kv[1].result(op) is None, _sort_key(kv[1].result(op)), kv[0]),
        )
        listed = [
            {"group": key, "value": acc.result(op), "records": acc.records}
            for key, acc in ordered[:MAX_GROUPS]
        ]
        result["group_by"] = group.name
        result["groups_total"] = len(groups)
        result["groups"] = listed
        if len(groups) > MAX_GROUPS:
            result["note"] = f"Showing the top {MAX_GROUPS} of {len(groups)} groups."
        if multi_valued:
            result["note_multi"] = "A record with several values counts in each of its groups."
        read_text = True
    skipped = overall.skipped
    if skipped:
        result["skipped_non_numeric"] = skipped
    display = {
        "kind": "aggregate",
        "table": table.name,
        "op": op,
        "field": result["field"],
        "value": result.get("value"),
        "group_by": result.get("group_by"),
        "groups": result.get("groups", [])[:DISPLAY_ROWS],
        "records_matched": scanned,
    }
    return ToolResult(dumps(result), display=display), read_text


def _sort_key(value: Any) -> Any:
    # Largest first for numbers; text groups (min/max of text) alphabetically.
    if isinstance(value, (int, float)):
        return (0, -value, "")
    return (1, 0, str(value))


# --- tool definitions -------------------------------------------------------------

READ_TOOLS = [
    Tool(
        name="search_records",
        description=(
            "List records of a table matching filters, a page at a time, with "
            "more_available/next_offset; never write formulas."
        ),
        arguments=SearchRecordsArguments,
        function=search_records,
    ),
    Tool(
        name="get_record",
        description="One record with all its fields.",
        arguments=GetRecordArguments,
        function=get_record,
    ),
    Tool(
        name="aggregate",
        description=(
            "count/sum/min/max/avg of a field over ALL matching records (every page), "
            "optionally per group_by field. count without field counts records."
        ),
        arguments=AggregateArguments,
        function=aggregate,
    ),
]

# The tools whose answers can carry text from the base's records.
RECORD_TEXT_TOOLS = frozenset(tool.name for tool in READ_TOOLS)


def history_read_record_text(history: list[dict[str, Any]]) -> bool:
    """Whether earlier turns of a conversation called a tool that can return record text.

    Their answers are still in what the model reads, so a new turn counts as having read
    record text from its start (no write of it runs on the admin's auto-approve rule).

    Args:
        history: The conversation in OpenAI format (`chat.service.history_for_llm`).

    Returns:
        True when an assistant message there called one of `RECORD_TEXT_TOOLS`.
    """
    for message in history:
        for call in message.get("tool_calls") or []:
            if (call.get("function") or {}).get("name") in RECORD_TEXT_TOOLS:
                return True
    return False
