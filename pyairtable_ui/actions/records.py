"""Reading and comparing Airtable records for previews, execution checks and undo.

Everything here is blocking (pyairtable is synchronous): call it from a worker
thread. Reads go through the `AirtableClient`, so they are paced and counted
like every other request.

Comparisons are deliberately lenient about representation (Airtable omits empty
cells, returns ``1`` for a typecast ``"1"``, adds ``.000Z`` to times, returns full
collaborator objects for ``{"id": ...}``): they answer "is this the value we
wrote / expect?", not "are these JSON documents identical?".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.formulas import F, chunked
from pyairtable_ui.airtable.schema import TableSchema

# Ids per filterByFormula read: OR(RECORD_ID()='rec…', …) of 100 ids is ~3 KB, well
# under the URL limit, and one page of 100 answers it in a single request.
READ_CHUNK = 100
# Records created this long before a step started still count as "maybe ours":
# our clock and Airtable's may differ a little.
CLOCK_SLACK = timedelta(seconds=60)


def by_id_formula(ids: Iterable[str]) -> str:
    """A formula matching exactly these record ids."""
    terms: list[F.Formula] = [F.EQ(F.RECORD_ID(), i) for i in ids]
    if not terms:
        raise ValueError("no record ids")
    return str(F.OR(*terms) if len(terms) > 1 else terms[0])


def read_records_by_id(
    client: AirtableClient,
    base_id: str,
    table_id: str,
    ids: Iterable[str],
    *,
    fields: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """The records with these ids as they are now, keyed by id (missing ids are absent).

    Args:
        client: The Airtable client.
        base_id: ``app...``.
        table_id: ``tbl...``.
        ids: Record ids (duplicates are read once).
        fields: Only these fields (names), to keep answers small.

    Returns:
        Record id -> Airtable's record (``id``, ``createdTime``, ``fields``).

    Raises:
        AirtableError: Airtable refused or did not answer.
        ToolCancelled: Stop was pressed.
    """
    wanted = list(dict.fromkeys(ids))
    found: dict[str, dict[str, Any]] = {}
    options: dict[str, Any] = {}
    if fields is not None:
        options["fields"] = fields
    for chunk in chunked(wanted, READ_CHUNK):
        formula = by_id_formula(chunk)
        for page in client.iterate_records(base_id, table_id, formula=formula, **options):
            for record in page:
                found[str(record["id"])] = record
    return found


def created_since_formula(since: datetime) -> str:
    """A formula matching records created after `since` less the clock slack (to the second)."""
    moment = (since - CLOCK_SLACK).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return str(F.IS_AFTER(F.CREATED_TIME(), F.DATETIME_PARSE(moment)))


def read_created_since(
    client: AirtableClient, base_id: str, table_id: str, since: datetime
) -> list[dict[str, Any]]:
    """Records created in the table since `since` (less the clock slack), oldest first.

    Used to find out whether a create request whose answer never came was applied.
    """
    formula = created_since_formula(since)
    records = [
        record
        for page in client.iterate_records(base_id, table_id, formula=formula)
        for record in page
    ]
    return sorted(records, key=lambda r: str(r.get("createdTime", "")))


# --- comparing values ---------------------------------------------------------------------


def is_empty(value: Any) -> bool:
    """Whether Airtable would show this cell as empty (it omits such cells)."""
    return value is None or value is False or value == "" or value == [] or value == {}


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _as_datetime(text: str) -> datetime | None:
    if len(text) < 10 or text[4:5] != "-":
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _item_key(item: Any) -> str:
    """A comparable key for one element of a list cell."""
    if isinstance(item, dict):
        for key in ("id", "email", "filename", "url", "name", "text"):
            if item.get(key):
                return f"{key}:{item[key]}".casefold() if key == "email" else f"{key}:{item[key]}"
        return repr(sorted(item.items()))
    return f"v:{item}"


def same_value(expected: Any, current: Any) -> bool:
    """Whether a cell holds `expected` (what was written or remembered), leniently.

    Args:
        expected: The value written or remembered.
        current: The value Airtable returns now (None when the cell is empty).

    Returns:
        True when the user would see the same thing.
    """
    if is_empty(expected) and is_empty(current):
        return True
    if is_empty(expected) or is_empty(current):
        return False
    if isinstance(expected, bool) or isinstance(current, bool):
        return expected is current
    left, right = _as_number(expected), _as_number(current)
    if left is not None and right is not None:
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(expected, str) and isinstance(current, str):
        if expected.strip() == current.strip():
            return True
        when_a, when_b = _as_datetime(expected), _as_datetime(current)
        if when_a is not None and when_b is not None and when_a.tzinfo and when_b.tzinfo:
            return when_a == when_b
        return False
    if isinstance(expected, dict) and isinstance(current, dict):
        for key in ("id", "email", "text"):
            if expected.get(key) and current.get(key):
                return _item_key({key: expected[key]}) == _item_key({key: current[key]})
        return expected == current
    if isinstance(expected, list) and isinstance(current, list):
        if len(expected) != len(current):
            return False
        # Attachments compared by id when both have one, else by file name.
        if all(isinstance(i, dict) for i in [*expected, *current]):
            both_ids = all(i.get("id") for i in [*expected, *current])
            if both_ids:
                return sorted(str(i["id"]) for i in expected) == sorted(
                    str(i["id"]) for i in current
                )
        return sorted(_item_key(i) for i in expected) == sorted(_item_key(i) for i in current)
    return bool(expected == current)


def comparable(value: Any, field_type: str | None = None) -> bool:
    """Whether a written value can be recognised in what Airtable returns.

    Attachment objects (Airtable rewrites their URLs) and links given by name
    (typecast finds or creates the records) cannot.
    """
    if isinstance(value, list) and any(isinstance(i, dict) and i.get("url") for i in value):
        return False
    if field_type == "multipleRecordLinks":
        items = value if isinstance(value, list) else [value]
        return all(isinstance(i, str) and i.startswith("rec") for i in items)
    return True


def _types(table: TableSchema | None) -> dict[str, str]:
    return {f.name: f.type for f in table.fields} if table is not None else {}


def fields_match(
    expected: dict[str, Any], current: dict[str, Any], table: TableSchema | None = None
) -> bool:
    """Whether every comparable written field holds its value in `current`."""
    return not changed_fields(expected, current, table)


def changed_fields(
    expected: dict[str, Any], current: dict[str, Any], table: TableSchema | None = None
) -> list[str]:
    """The fields whose current value differs from `expected` (comparable ones only)."""
    types = _types(table)
    return [
        name
        for name, value in expected.items()
        if comparable(value, types.get(name)) and not same_value(value, current.get(name))
    ]


def primary_label(table: TableSchema | None, fields: dict[str, Any], fallback: str) -> str:
    """What the user calls a record: its primary field's value, else `fallback`."""
    if table is None or not table.fields:
        return fallback
    value = fields.get(table.primary_field.name)
    if is_empty(value):
        return fallback
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"
