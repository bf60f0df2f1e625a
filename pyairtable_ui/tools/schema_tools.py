"""Read tools over the structure: list_bases, list_tables, describe_table."""

from __future__ import annotations

from typing import Any

from pyairtable_ui.airtable.schema import (
    estimate_tokens,
    render_schema,
    render_table,
    suggest,
)
from pyairtable_ui.tools.arguments import ListTablesArguments, NoArguments, TableArguments
from pyairtable_ui.tools.registry import Tool, ToolContext, ToolResult

# Above this, list_tables at field detail answers with names only and says how to narrow.
LIST_TABLES_TOKEN_BUDGET = 4000


def list_bases(ctx: ToolContext, args: NoArguments) -> ToolResult:
    """The bases the user's token can see, with permission levels."""
    bases: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    while True:
        ctx.client.check_cancelled()
        page = ctx.client.request("GET", "meta", "bases", params=params) or {}
        bases += [b for b in page.get("bases") or [] if isinstance(b, dict)]
        if not page.get("offset"):
            break
        params = {"offset": page["offset"]}
    lines = [f"{len(bases)} bases:"]
    for b in sorted(bases, key=lambda b: str(b.get("name", "")).casefold()):
        current = " ← this conversation" if b.get("id") == ctx.base_id else ""
        lines.append(f"- {b.get('name')} ({b.get('id')}, {b.get('permissionLevel')}){current}")
    display = {
        "kind": "bases",
        "rows": [
            {"id": b.get("id"), "name": b.get("name"), "permission": b.get("permissionLevel")}
            for b in bases[:50]
        ],
    }
    return ToolResult("\n".join(lines), display=display)


def list_tables(ctx: ToolContext, args: ListTablesArguments) -> ToolResult:
    """The base's tables, at `names` or `fields` detail, optionally filtered by name."""
    schema = ctx.schema()
    detail = args.detail
    tables = list(schema.tables)
    name_filter = args.name_contains.strip()
    if name_filter:
        wanted = name_filter.casefold()
        tables = [t for t in tables if wanted in t.name.casefold()]
        if not tables:
            close = suggest(name_filter, [t.name for t in schema.tables])
            hint = (" Did you mean " + ", ".join(f'"{c}"' for c in close) + "?") if close else ""
            return ToolResult(f'No table name contains "{name_filter}".{hint}')
    text = render_schema(schema, detail=detail, tables=tables)
    if detail == "fields" and estimate_tokens(text) > LIST_TABLES_TOKEN_BUDGET:
        text = (
            render_schema(schema, detail="names", tables=tables)
            + "\n(Too many tables to list their fields at once: call list_tables with "
            "name_contains, or describe_table for one table.)"
        )
    display = {
        "kind": "tables",
        "rows": [{"id": t.id, "name": t.name, "fields": len(t.fields)} for t in tables[:50]],
    }
    return ToolResult(text, display=display)


def describe_table(ctx: ToolContext, args: TableArguments) -> ToolResult:
    """One table in full: field ids, types, every select option, links, views."""
    schema = ctx.schema()
    table = ctx.resolve_table(args.table)
    display = {
        "kind": "table",
        "table": table.name,
        "rows": [{"name": f.name, "type": f.type} for f in table.fields],
    }
    return ToolResult(render_table(schema, table), display=display)


SCHEMA_TOOLS = [
    Tool(
        name="list_bases",
        description="The Airtable bases the user can access.",
        arguments=NoArguments,
        function=list_bases,
        needs_base=False,
    ),
    Tool(
        name="list_tables",
        description=(
            "Tables of the current base. detail=names (tables + primary field) or fields "
            "(+ field types and select options)."
        ),
        arguments=ListTablesArguments,
        function=list_tables,
    ),
    Tool(
        name="describe_table",
        description="One table in full: fields with ids, types, all options, views.",
        arguments=TableArguments,
        function=describe_table,
    ),
]
