"""Field types: which are computed, their default ``options``, and cell value coercion.

Values are stored in the emulator exactly as Airtable returns them with ``cellFormat=json``
(select names, ``YYYY-MM-DD`` dates, ISO datetimes, record id lists ...); empty values are never
stored, so they are naturally omitted from responses.
"""

from __future__ import annotations

import math
import re
from typing import Any

from . import dates, errors
from .formula import DATETIME_RESULT_OPTIONS, format_number

TEXT_TYPES = frozenset(
    {"singleLineText", "multilineText", "richText", "email", "url", "phoneNumber"}
)
NUMBER_TYPES = frozenset({"number", "currency", "percent", "duration"})
COMPUTED_TYPES = frozenset(
    {
        "formula",
        "autoNumber",
        "createdTime",
        "lastModifiedTime",
        "count",
        "rollup",
        "multipleLookupValues",
        "createdBy",
        "lastModifiedBy",
        "button",
        "externalSyncSource",
        "aiText",
        "manualSort",
    }
)
WRITABLE_TYPES = frozenset(
    TEXT_TYPES
    | NUMBER_TYPES
    | {
        "rating",
        "checkbox",
        "singleSelect",
        "multipleSelects",
        "date",
        "dateTime",
        "multipleRecordLinks",
        "singleCollaborator",
        "multipleCollaborators",
        "multipleAttachments",
        "barcode",
    }
)
KNOWN_TYPES = WRITABLE_TYPES | COMPUTED_TYPES
# Types Airtable allows as a table's primary field.
PRIMARY_TYPES = frozenset(
    TEXT_TYPES
    | NUMBER_TYPES
    | {"date", "dateTime", "formula", "autoNumber", "barcode", "singleSelect"}
) - {"richText"}
# Stored values that formulas see unchanged (no parsing or lookups needed).
RAW_FORMULA_TYPES = frozenset(
    TEXT_TYPES
    | NUMBER_TYPES
    | {
        "rating",
        "singleSelect",
        "multipleSelects",
        "singleCollaborator",
        "multipleCollaborators",
        "multipleAttachments",
        "barcode",
    }
)

CHOICE_COLORS = (
    "blueLight2",
    "cyanLight2",
    "tealLight2",
    "greenLight2",
    "yellowLight2",
    "orangeLight2",
    "redLight2",
    "pinkLight2",
    "purpleLight2",
    "grayLight2",
)

DATE_FORMATS = {
    "iso": "YYYY-MM-DD",
    "local": "l",
    "friendly": "LL",
    "us": "M/D/YYYY",
    "european": "D/M/YYYY",
}
TIME_FORMATS = {"24hour": "HH:mm", "12hour": "h:mma"}


def _date_format(value: Any) -> dict[str, str]:
    """Accept ``{"name": "iso"}``, ``{"format": ...}`` or a bare name; fill the other key."""
    if isinstance(value, str):
        value = {"name": value}
    value = dict(value or {})
    name = value.get("name") or next(
        (k for k, v in DATE_FORMATS.items() if v == value.get("format")), "iso"
    )
    return {"format": value.get("format") or DATE_FORMATS.get(name, "YYYY-MM-DD"), "name": name}


def _time_format(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = {"name": value}
    value = dict(value or {})
    name = value.get("name") or next(
        (k for k, v in TIME_FORMATS.items() if v == value.get("format")), "24hour"
    )
    return {"format": value.get("format") or TIME_FORMATS.get(name, "HH:mm"), "name": name}


def normalize_choices(field_id: str, choices: Any) -> list[dict[str, Any]]:
    """Turn ``["A", {"name": "B"}]`` into full choice objects with stable ids and colors."""
    from .ids import stable_id

    result = []
    for index, choice in enumerate(choices or []):
        if isinstance(choice, str):
            choice = {"name": choice}
        entry = {
            "id": choice.get("id") or stable_id("sel", field_id, choice["name"]),
            "name": choice["name"],
            "color": choice.get("color") or CHOICE_COLORS[index % len(CHOICE_COLORS)],
        }
        result.append(entry)
    return result


def default_options(field_type: str, field_id: str, options: dict[str, Any] | None) -> Any:
    """Fill in the options pyairtable's schema models require for ``field_type``.

    Cross-references (linked table, link field, lookup target) are resolved later by the state,
    which knows every table; here only self-contained defaults are applied.

    Args:
        field_type: Airtable field type.
        field_id: Id of the field (used for stable choice ids).
        options: Options from the seed or the create-field request, possibly partial.

    Returns:
        The options dict, or ``None`` for types without options.
    """
    opts = dict(options or {})
    if field_type in ("singleSelect", "multipleSelects"):
        opts["choices"] = normalize_choices(field_id, opts.get("choices"))
    elif field_type == "checkbox":
        opts.setdefault("color", "greenBright")
        opts.setdefault("icon", "check")
    elif field_type in ("number", "percent"):
        opts.setdefault("precision", 0)
    elif field_type == "currency":
        opts.setdefault("precision", 2)
        opts.setdefault("symbol", "$")
    elif field_type == "rating":
        opts.setdefault("color", "yellowBright")
        opts.setdefault("icon", "star")
        opts.setdefault("max", 5)
    elif field_type == "duration":
        opts.setdefault("durationFormat", "h:mm")
    elif field_type == "date":
        opts["dateFormat"] = _date_format(opts.get("dateFormat"))
    elif field_type == "dateTime":
        opts["dateFormat"] = _date_format(opts.get("dateFormat"))
        opts["timeFormat"] = _time_format(opts.get("timeFormat"))
        opts.setdefault("timeZone", "utc")
    elif field_type == "multipleAttachments":
        opts.setdefault("isReversed", False)
    elif field_type == "multipleRecordLinks":
        opts.setdefault("isReversed", False)
        opts.setdefault("prefersSingleRecordLink", False)
    elif field_type in ("createdTime", "lastModifiedTime"):
        opts.setdefault("result", {"type": "dateTime", "options": dict(DATETIME_RESULT_OPTIONS)})
        if field_type == "lastModifiedTime":
            opts.setdefault("referencedFieldIds", [])
    elif field_type == "button":
        opts.setdefault("label", "Open")
    elif not opts:
        return None
    return opts


# --- write coercion ---------------------------------------------------------------------------

_TRUE_WORDS = frozenset({"true", "yes", "y", "checked", "on", "1", "x", "✓", "✔"})
_FALSE_WORDS = frozenset({"false", "no", "n", "unchecked", "off", "0", ""})


def _clean_number(value: float | int) -> int | float:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError("not finite")
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
    return value


def _parse_number_text(text: str, field_type: str) -> int | float | None:
    text = text.strip()
    if not text:
        return None
    if field_type == "duration" and ":" in text:
        parts = [float(p) for p in text.split(":")]
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + part
        # "h:mm" means hours and minutes; pad to seconds.
        if len(parts) == 2:
            seconds *= 60
        return _clean_number(seconds)
    percent = text.endswith("%")
    cleaned = re.sub(r"[^\d.eE+-]", "", text)
    number = float(cleaned)
    if percent and field_type == "percent":
        number /= 100
    return _clean_number(number)


def coerce_text(name: str, value: Any, typecast: bool) -> str | None:
    """Text-like cells: strings only, unless ``typecast`` converts numbers/booleans/lists."""
    if isinstance(value, str):
        return value or None
    if typecast and isinstance(value, bool):
        return "true" if value else "false"
    if typecast and isinstance(value, (int, float)):
        return format_number(value)
    if typecast and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value) or None
    raise errors.invalid_value(name, "expected a string")


def coerce_number(name: str, field_type: str, value: Any, typecast: bool) -> int | float | None:
    """number/currency/percent/duration cells."""
    try:
        if isinstance(value, bool):
            if typecast:
                return int(value)
        elif isinstance(value, (int, float)):
            return _clean_number(value)
        elif typecast and isinstance(value, str):
            return _parse_number_text(value, field_type)
    except ValueError:
        pass
    raise errors.invalid_value(name, "expected a number")


def coerce_rating(name: str, value: Any, typecast: bool, maximum: int) -> int | None:
    """Ratings are integers from 1 to ``max``; 0 clears the cell."""
    number = coerce_number(name, "number", value, typecast)
    if number is None or number == 0:
        return None
    if number != int(number) or not 1 <= number <= maximum:
        raise errors.invalid_value(name, f"expected an integer from 1 to {maximum}")
    return int(number)


def coerce_checkbox(name: str, value: Any, typecast: bool) -> bool | None:
    """Checkbox cells store ``True`` or nothing."""
    if isinstance(value, bool):
        return True if value else None
    if typecast:
        if isinstance(value, (int, float)):
            return True if value else None
        if isinstance(value, str):
            word = value.strip().lower()
            if word in _TRUE_WORDS:
                return True
            if word in _FALSE_WORDS:
                return None
    raise errors.invalid_value(name, "expected a boolean")


def coerce_date(name: str, value: Any, typecast: bool) -> str | None:
    """Date cells are stored as ``YYYY-MM-DD``; ISO strings always work, others need typecast."""
    if isinstance(value, str):
        if not value.strip():
            return None
        parsed = dates.parse_loose(value) if typecast else dates.parse_iso(value)
        if parsed is not None:
            return dates.format_date(parsed)
    raise errors.invalid_value(name, "expected an ISO 8601 date string")


def coerce_datetime(name: str, value: Any, typecast: bool, time_zone: str = "utc") -> str | None:
    """dateTime cells are stored as UTC ``...T...Z`` strings; epoch milliseconds are accepted."""
    parsed = None
    if isinstance(value, str):
        if not value.strip():
            return None
        parsed = dates.parse_loose(value) if typecast else dates.parse_iso(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        parsed = dates.from_epoch_ms(value)
    if parsed is None:
        raise errors.invalid_value(name, "expected an ISO 8601 datetime string")
    return dates.format_iso(parsed)


def coerce_barcode(name: str, value: Any, typecast: bool) -> dict[str, Any] | None:
    """Barcode cells are ``{"text": ..., "type": ...}``."""
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        result = {"text": value["text"]}
        if value.get("type"):
            result["type"] = value["type"]
        return result if value["text"] else None
    if typecast and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = value if isinstance(value, str) else format_number(value)
        return {"text": text} if text else None
    raise errors.invalid_value(name, "expected a barcode object")


def split_list(value: str) -> list[str]:
    """Typecast splits comma-separated text into list items."""
    return [part.strip() for part in value.split(",") if part.strip()]
