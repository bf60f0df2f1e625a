"""Structured filters (field, operator, value) turned into Airtable formulas.

The model never writes formula text: it sends a list of conditions and this
module builds the formula with `pyairtable.formulas`, which quotes every value
and field name. Each operator is interpreted by the field's type, so that
"Due is after 2024-05-01" compares dates, "Tags eq urgent" means "has the tag
urgent", and "Name contains ana" ignores case.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from pyairtable_ui.airtable.field_types import value_kind
from pyairtable_ui.airtable.formulas import F
from pyairtable_ui.airtable.schema import FieldSchema, TableSchema
from pyairtable_ui.tools.arguments import OPERATORS, Filter
from pyairtable_ui.tools.registry import ToolInputError

FieldResolver = Callable[[str], FieldSchema]


def _number(f: FieldSchema, value: Any, where: str) -> int | float:
    if isinstance(value, bool):
        raise ToolInputError(f'{where}: "{f.name}" is a number field; give a number, not {value}.')
    if isinstance(value, (int, float)) and math.isfinite(value):
        return value
    if isinstance(value, str):
        try:
            number = float(value.replace(",", "").strip())
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return int(number) if number.is_integer() else number
    raise ToolInputError(f'{where}: "{f.name}" is a number field; {value!r} is not a number.')


def _date(f: FieldSchema, value: Any, where: str) -> date | datetime:
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
    raise ToolInputError(
        f'{where}: "{f.name}" is a date field; give the date as YYYY-MM-DD '
        f"(or an ISO date-time), not {value!r}."
    )


def _text(f: FieldSchema, value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise ToolInputError(f'{where}: give one text value for "{f.name}", not {value!r}.')


def _as_text(field: F.Field) -> F.Formula:
    # CONCATENATE turns numbers, dates and lists ("a, b") into text before comparing.
    return F.CONCATENATE(field)


def _is_empty(field: F.Field) -> F.Formula:
    # LEN of the text is 0 only for a blank cell; `= BLANK()` would also match 0 and false.
    return F.EQ(F.LEN(_as_text(field)), 0)


def _contains(field: F.Field, text: str) -> F.Formula:
    return F.GT(F.FIND(text.lower(), F.LOWER(_as_text(field))), 0)


def _has_item(field: F.Field, text: str) -> F.Formula:
    # ", a, b, " contains ", a, " exactly when "a" is one of the items.
    haystack = F.LOWER(F.CONCATENATE(", ", field, ", "))
    return F.GT(F.FIND(f", {text.lower()}, ", haystack), 0)


def _equals(f: FieldSchema, field: F.Field, value: Any, where: str) -> F.Formula:
    kind = value_kind(f)
    if value is None:
        return _is_empty(field)
    if kind == "number":
        # Airtable treats a blank number as 0; "Score = 0" should not match empty cells.
        return F.AND(F.NOT(_is_empty(field)), F.EQ(field, _number(f, value, where)))
    if kind == "date":
        parsed = _date(f, value, where)
        unit = "day" if not isinstance(parsed, datetime) else "second"
        return F.IS_SAME(field, parsed, unit)
    if kind == "bool":
        truthy = value if isinstance(value, bool) else str(value).strip().lower() == "true"
        return F.EQ(field, F.TRUE()) if truthy else F.NOT(field)
    if kind == "list":
        return _has_item(field, _text(f, value, where))
    return F.EQ(field, _text(f, value, where))


def _ordered(f: FieldSchema, field: F.Field, op: str, value: Any, where: str) -> F.Formula:
    kind = value_kind(f)
    if kind == "number":
        number = _number(f, value, where)
        compare = {"gt": F.GT, "gte": F.GTE, "lt": F.LT, "lte": F.LTE}[op](field, number)
        # A blank counts as 0 in Airtable formulas; "Score < 5" must not list empty scores.
        return F.AND(F.NOT(_is_empty(field)), compare)
    if kind == "date":
        parsed = _date(f, value, where)
        unit = "day" if not isinstance(parsed, datetime) else "second"
        same = F.IS_SAME(field, parsed, unit)
        after = F.AND(F.IS_AFTER(field, parsed), F.NOT(same))
        before = F.AND(F.IS_BEFORE(field, parsed), F.NOT(same))
        non_blank = F.NOT(_is_empty(field))
        if op == "gt":
            return after
        if op == "lt":
            return before
        if op == "gte":
            return F.AND(non_blank, F.OR(same, after))
        return F.AND(non_blank, F.OR(same, before))
    raise ToolInputError(
        f'{where}: {op} compares numbers or dates, but "{f.name}" is a '
        f"{f.type} field. Use eq, contains or starts_with."
    )


def condition_formula(f: FieldSchema, op: str, value: Any, where: str) -> F.Formula:
    """The formula for one condition on a field.

    Args:
        f: The field (already resolved).
        op: One of `OPERATORS`.
        value: The value the model gave.
        where: Where the condition is in the arguments, for messages ("filters[1]").

    Returns:
        A pyairtable formula.

    Raises:
        ToolInputError: The value does not suit the field or operator.
    """
    field = F.Field(f.name)
    if op == "is_empty":
        return _is_empty(field)
    if op == "is_not_empty":
        return F.NOT(_is_empty(field))
    if op == "in":
        if not isinstance(value, list) or not value:
            raise ToolInputError(f"{where}: op in needs a non-empty list of values.")
        return F.OR(*[_equals(f, field, item, f"{where}.value") for item in value])
    if isinstance(value, list):
        raise ToolInputError(f"{where}: op {op} takes one value; use op in for a list.")
    if value is None and op not in ("eq", "neq"):
        raise ToolInputError(f"{where}: op {op} needs a value.")
    if op == "eq":
        return _equals(f, field, value, where)
    if op == "neq":
        return F.NOT(_equals(f, field, value, where))
    if op in ("gt", "gte", "lt", "lte"):
        return _ordered(f, field, op, value, where)
    text = _text(f, value, where)
    if op == "contains":
        return _contains(field, text)
    if op == "not_contains":
        return F.NOT(_contains(field, text))
    if op == "starts_with":
        return F.EQ(F.FIND(text.lower(), F.LOWER(_as_text(field))), 1)
    raise ToolInputError(f"{where}: unknown op {op!r}; use one of {', '.join(OPERATORS)}.")


def build_formula(
    table: TableSchema,
    filters: Sequence[Filter],
    *,
    match: str = "all",
    resolve_field: FieldResolver | None = None,
) -> F.Formula | None:
    """The filterByFormula for a list of conditions, or None when there are none.

    Args:
        table: The table filtered.
        filters: The conditions.
        match: ``all`` (AND) or ``any`` (OR).
        resolve_field: Finds a field by name or id (default: `table.field`).

    Returns:
        The formula, or None.

    Raises:
        ToolInputError: A value does not suit its field or operator.
        UnknownFieldError: A field name is unknown.
    """
    resolve = resolve_field or table.field
    parts = []
    for index, condition in enumerate(filters):
        where = f"filters[{index}]"
        f = resolve(condition.field)
        parts.append(condition_formula(f, condition.op, condition.value, where))
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return F.OR(*parts) if match == "any" else F.AND(*parts)


# How each operator reads in a sentence; dates read as before/after, not less/more.
_OPERATOR_WORDS = {
    "eq": "is",
    "neq": "is not",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "in": "is one of",
}
_DATE_WORDS = {
    "gt": "is after",
    "gte": "is on or after",
    "lt": "is before",
    "lte": "is on or before",
}
_MAX_VALUE_CHARS = 40


def value_text(value: Any) -> str:
    """A value as a proposal's summary shows it: short, and text without JSON quotes."""
    if isinstance(value, list):
        text = ", ".join(value_text(item) for item in value)
    elif isinstance(value, bool):
        text = "checked" if value else "unchecked"
    elif value is None:
        text = "empty"
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "…"


def describe_filters(
    table: TableSchema,
    filters: Sequence[Filter],
    *,
    match: str = "all",
    resolve_field: FieldResolver | None = None,
) -> str:
    """The conditions in words ("Due is before 2024-06-01 and Done is unchecked").

    The user approves a set-based write by what matched, so its summary says the
    condition as the app understood it, with the schema's field names.
    """
    resolve = resolve_field or table.field
    parts = []
    for condition in filters:
        f = resolve(condition.field)
        parts.append(
            condition_text(f.name, condition.op, condition.value, is_date=value_kind(f) == "date")
        )
    return (" or " if match == "any" else " and ").join(parts)


def condition_text(
    field: str,
    op: str,
    value: Any,
    *,
    is_date: bool,
    words: Callable[[Any], str] = value_text,
) -> str:
    """One condition in words: "Due is before 2024-06-01", "Notes is empty".

    Args:
        field: The field's name as shown.
        op: One of `OPERATORS`.
        value: The condition's value.
        is_date: Whether the field holds dates (gt/lt read as after/before).
        words: How the value is written (default `value_text`).
    """
    if op in ("is_empty", "is_not_empty") or (value is None and op in ("eq", "neq")):
        return f"{field} {'is not empty' if op in ('neq', 'is_not_empty') else 'is empty'}"
    phrase = _OPERATOR_WORDS.get(op, op)
    if is_date:
        phrase = _DATE_WORDS.get(op, phrase)
    return f"{field} {phrase} {words(value)}"
