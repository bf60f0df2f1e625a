"""What Airtable accepts in a field of each type: the one place these rules are written.

The write tools check values with `value_problem` before proposing an action, and
the preview checks them again before the user confirms (the schema may have changed
meanwhile), so both refuse exactly what Airtable would refuse. `new_options` says
which select options a value would add (typecast adds them; without it Airtable
refuses). The rules follow Airtable's cell rules as the emulator in
`pyairtable_ui/emulator/cells.py` implements them; where we are stricter than
Airtable (a date with a time in a date field, say), the model is asked for the
plain form rather than relying on a conversion.

This module imports nothing from the app, so `schema.py` can take its
`COMPUTED_TYPES` from here.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any, Literal, Protocol

# --- type families ------------------------------------------------------------------

TEXT_TYPES = frozenset(
    {"singleLineText", "multilineText", "richText", "email", "url", "phoneNumber"}
)
NUMBER_TYPES = frozenset({"number", "currency", "percent", "duration", "rating"})
DATE_TYPES = frozenset({"date", "dateTime"})
SELECT_TYPES = frozenset({"singleSelect", "multipleSelects"})
# Field types whose values Airtable computes; writes to them are refused.
COMPUTED_TYPES = frozenset(
    {
        "formula",
        "rollup",
        "multipleLookupValues",
        "count",
        "autoNumber",
        "createdTime",
        "lastModifiedTime",
        "createdBy",
        "lastModifiedBy",
        "button",
        "externalSyncSource",
        "aiText",
    }
)
# Types whose values are numbers, dates or lists when read, computed types included.
NUMBER_VALUE_TYPES = NUMBER_TYPES | {"autoNumber", "count"}
DATE_VALUE_TYPES = DATE_TYPES | {"createdTime", "lastModifiedTime"}
LIST_VALUE_TYPES = frozenset(
    {
        "multipleSelects",
        "multipleRecordLinks",
        "multipleLookupValues",
        "multipleCollaborators",
        "multipleAttachments",
    }
)

# Field types create_table / create_field accept, with the options Airtable requires.
CREATABLE_TYPES: dict[str, dict[str, Any] | None] = {
    "singleLineText": None,
    "multilineText": None,
    "richText": None,
    "email": None,
    "url": None,
    "phoneNumber": None,
    "number": {"precision": 0},
    "currency": {"precision": 2, "symbol": "$"},
    "percent": {"precision": 0},
    "duration": {"durationFormat": "h:mm"},
    "rating": {"max": 5, "icon": "star", "color": "yellowBright"},
    "checkbox": {"icon": "check", "color": "greenBright"},
    "date": {"dateFormat": {"name": "iso"}},
    "dateTime": {
        "dateFormat": {"name": "iso"},
        "timeFormat": {"name": "24hour"},
        "timeZone": "utc",
    },
    "singleSelect": {"choices": []},
    "multipleSelects": {"choices": []},
    "multipleRecordLinks": {},
    "multipleAttachments": {},
    "singleCollaborator": {},
    "multipleCollaborators": {},
}

ValueKind = Literal["number", "date", "bool", "list", "text"]


class Field(Protocol):
    """What the rules need to know of a field (`airtable.schema.FieldSchema` has it)."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def choices(self) -> list[str]: ...

    @property
    def result_type(self) -> str | None: ...


def value_kind(field: Field) -> ValueKind:
    """How a field's values compare in a filter: number, date, bool, list or text.

    Formulas and rollups compare as the type of their result.
    """
    field_type = field.type
    if field_type in ("formula", "rollup"):
        field_type = field.result_type or "singleLineText"
    if field_type in NUMBER_VALUE_TYPES:
        return "number"
    if field_type in DATE_VALUE_TYPES:
        return "date"
    if field_type == "checkbox":
        return "bool"
    if field_type in LIST_VALUE_TYPES:
        return "list"
    return "text"


# --- values Airtable accepts ----------------------------------------------------------

# The words typecast reads as a tick or no tick in a checkbox.
_CHECKBOX_WORDS = frozenset(
    {"true", "yes", "y", "checked", "on", "1", "x", "✓", "✔"}
    | {"false", "no", "n", "unchecked", "off", "0", ""}
)
RECORD_ID_PATTERN = "^rec[A-Za-z0-9]{14}$"


def is_record_id(value: Any) -> bool:
    """Whether `value` is an Airtable record id (``rec`` and 14 letters or digits)."""
    return isinstance(value, str) and re.fullmatch(RECORD_ID_PATTERN, value) is not None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _reads_as_number(text: str) -> bool:
    """Whether typecast can read `text` as a number ("1,200", "$5", "45%", "1:30")."""
    text = text.strip()
    if not text:
        return True  # clears the cell
    try:
        if ":" in text:  # a duration such as h:mm
            numbers = [float(part) for part in text.split(":")]
        else:
            numbers = [float(re.sub(r"[^\d.eE+-]", "", text))]
    except ValueError:
        return False
    return all(math.isfinite(n) for n in numbers)


def _is_iso(text: str, *, with_time: bool) -> bool:
    try:
        if with_time:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        else:
            date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _number_text(value: int | float) -> str:
    # Typecast names a select option after a number as Airtable writes it: 5.0 is "5".
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def select_names(field: Field, value: Any, *, typecast: bool) -> list[str] | None:
    """The option names a select value means, or None when it is no select value.

    Typecast also reads a number as an option name and, for a multiple select, text
    as names separated by commas. Empty names clear the cell and are left out.
    """
    if field.type == "singleSelect":
        if typecast and _is_number(value):
            value = _number_text(value)
        if not isinstance(value, str):
            return None
        return [value] if value else []
    if typecast and isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return list(dict.fromkeys(name for name in value if name))


def new_options(field: Field, value: Any, *, typecast: bool) -> list[str]:
    """The select options `value` names that `field` does not have yet.

    With typecast Airtable adds them (the user must see that before confirming);
    without it Airtable refuses the value.
    """
    if field.type not in SELECT_TYPES or value is None:
        return []
    names = select_names(field, value, typecast=typecast) or []
    return [name for name in names if name not in field.choices]


def value_problem(field: Field, value: Any, *, typecast: bool) -> str | None:
    """Why Airtable would refuse `value` for `field`, or None when it takes it.

    The shape of the value is checked here; unknown select options are not a
    problem of the shape (see `new_options`), nor are computed fields (their
    callers refuse any value for them).

    Args:
        field: The field written to.
        value: The value, as sent in the request (None clears the cell).
        typecast: Whether Airtable may convert the value.

    Returns:
        What is wrong and what to give instead, naming the field, or None.
    """
    if value is None:
        return None
    kind = field.type
    name = f"“{field.name}”"
    if kind in NUMBER_TYPES:
        if _is_number(value) or (
            typecast
            and (isinstance(value, bool) or (isinstance(value, str) and _reads_as_number(value)))
        ):
            return None
        return f"{name} is a {kind} field and {value!r} is not a number; give a number."
    if kind == "checkbox":
        if isinstance(value, bool) or (
            typecast
            and (
                _is_number(value)
                or (isinstance(value, str) and value.strip().lower() in _CHECKBOX_WORDS)
            )
        ):
            return None
        return f"{name} is a checkbox and {value!r} is not true or false; give true or false."
    if kind == "singleSelect":
        if select_names(field, value, typecast=typecast) is not None:
            return None
        return f"{name} is a single select and {value!r} is not an option name; give one name."
    if kind == "multipleSelects":
        if select_names(field, value, typecast=typecast) is not None:
            return None
        return (
            f"{name} is a multiple select and {value!r} is not a list of option names; "
            "give a list of names."
        )
    if kind == "multipleRecordLinks":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return (
                f"{name} links records and {value!r} is not a list of record ids; "
                "give a list of record ids."
            )
        if not typecast and not all(is_record_id(v) for v in value):
            # Only typecast links by the linked records' names.
            return f"{name} takes record ids like recXXXXXXXXXXXXXX, not {value!r}."
        return None
    if kind in DATE_TYPES:
        with_time = kind == "dateTime"
        if isinstance(value, str) and (typecast or _is_iso(value, with_time=with_time)):
            return None
        if with_time:
            return (
                f"{name} is a date and time field and {value!r} is not ISO 8601; give one "
                "such as 2024-05-01T09:30:00Z."
            )
        return f"{name} is a date field and {value!r} is not a date; give YYYY-MM-DD."
    if kind in TEXT_TYPES:
        if isinstance(value, str) or (typecast and _typecast_text(value)):
            return None
        return f"{name} is a text field and {value!r} is not text; give text."
    if kind == "barcode":
        if (isinstance(value, dict) and isinstance(value.get("text"), str)) or (
            typecast and (isinstance(value, str) or _is_number(value))
        ):
            return None
        return f'{name} is a barcode field and {value!r} is not one; give {{"text": …}}.'
    if kind == "multipleAttachments":
        # New files come by url; files the cell already holds may be kept by their id.
        if isinstance(value, list) and all(
            isinstance(v, dict) and (v.get("url") or v.get("id")) for v in value
        ):
            return None
        return f'{name} takes a list of {{"url": …}} objects, not {value!r}.'
    if kind == "singleCollaborator":
        if isinstance(value, dict) and (value.get("id") or value.get("email")):
            return None
        return f'{name} takes {{"id": "usr…"}} or {{"email": …}}, not {value!r}.'
    return None


def _typecast_text(value: Any) -> bool:
    # Typecast writes numbers, true/false and lists of text as text; not objects.
    if isinstance(value, bool) or _is_number(value):
        return True
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
