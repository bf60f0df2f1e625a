"""Example questions for an empty conversation, written from the base's own schema.

A canned "How many deals did we win?" means nothing on a roadmap base; these name
the base's real tables, fields and select options, so a click asks something the
assistant can answer there. Plain Python over a `BaseSchema` (no Reflex, no
Airtable call): the caller passes the cached schema.

Each kind of question needs a kind of field (a select to count by, a date, a
number to add up); the examples take different kinds and, where the base has
several tables, different tables, so the few shown show what the chat can do.
"""

from __future__ import annotations

from collections.abc import Callable

from pyairtable_ui.airtable.schema import BaseSchema, FieldSchema, TableSchema

MAX_EXAMPLES = 4
# A name longer than this makes a clumsy button; such a table or field is skipped.
MAX_NAME_CHARS = 40

_SELECTS = frozenset({"singleSelect"})
_DATES = frozenset({"date", "dateTime"})
_NUMBERS = frozenset({"number", "currency"})


def _usable(name: str) -> bool:
    return 0 < len(name) <= MAX_NAME_CHARS and name == name.strip() and "\n" not in name


def _fields_of(table: TableSchema, types: frozenset[str]) -> list[FieldSchema]:
    return [f for f in table.fields if f.type in types and _usable(f.name)]


def _count_by_select(table: TableSchema) -> str | None:
    selects = _fields_of(table, _SELECTS)
    if not selects:
        return None
    return f"How many {table.name} are there for each {selects[0].name}?"


def _filter_by_choice(table: TableSchema) -> str | None:
    for field in _fields_of(table, _SELECTS):
        choices = [c for c in field.choices if _usable(c)]
        if len(choices) >= 2:
            # The second option: the first is often the default everything starts in.
            return f"Which {table.name} have {field.name} “{choices[1]}”?"
    return None


def _upcoming_dates(table: TableSchema) -> str | None:
    dates = [f for f in _fields_of(table, _DATES) if not f.computed]
    if not dates:
        return None
    # "Latest", not "next 30 days": the date may be a deadline or a past contact.
    return f"Show the 5 {table.name} with the latest {dates[-1].name}."


def _sum_numbers(table: TableSchema) -> str | None:
    numbers = _fields_of(table, _NUMBERS)
    if not numbers:
        return None
    selects = _fields_of(table, _SELECTS)
    if selects:
        return f"What is the total {numbers[0].name} of {table.name} by {selects[0].name}?"
    return f"What is the total {numbers[0].name} of all {table.name}?"


def _some_records(table: TableSchema) -> str:
    return f"Show me 5 records from {table.name}."


# The order in which kinds are tried: counting and filtering first (what most people
# ask first), then dates and sums; a plain listing fills any gap.
_KINDS: tuple[Callable[[TableSchema], str | None], ...] = (
    _count_by_select,
    _upcoming_dates,
    _sum_numbers,
    _filter_by_choice,
)


def example_prompts(schema: BaseSchema, *, limit: int = MAX_EXAMPLES) -> list[str]:
    """Up to `limit` questions about this base, each naming one of its tables.

    Args:
        schema: The base's schema (from the cache).
        limit: How many to return at most.

    Returns:
        Distinct questions, in the order to show them; empty for a base with no
        table whose name fits on a button.
    """
    tables = [t for t in schema.tables if _usable(t.name) and t.fields]
    if not tables or limit <= 0:
        return []
    prompts: list[str] = []
    used_tables: set[str] = set()
    for turn, kind in enumerate(_KINDS):
        # Start each kind at another table, and prefer a table not used yet.
        rotated = tables[turn % len(tables) :] + tables[: turn % len(tables)]
        ordered = [t for t in rotated if t.id not in used_tables] + [
            t for t in rotated if t.id in used_tables
        ]
        for table in ordered:
            prompt = kind(table)
            if prompt is not None and prompt not in prompts:
                prompts.append(prompt)
                used_tables.add(table.id)
                break
        if len(prompts) >= limit:
            return prompts
    for table in tables:
        if len(prompts) >= limit:
            break
        if table.id not in used_tables:
            prompts.append(_some_records(table))
            used_tables.add(table.id)
    return prompts[:limit]
