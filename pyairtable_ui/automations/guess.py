"""What type each imported column looks like, and each cell as Airtable wants it.

`guess_column` reads a column's values and names the Airtable field type that fits
them all (with the select options it saw, the currency symbol, the date order);
the user may change it on the mapping screen. `convert` turns one cell's text into
the value a field of a type takes ("12%" -> 0.12 for a percent, "03/04/2024" ->
"2024-03-04" for a date read month first), or says why it cannot. Links are
resolved by the linked table's primary field elsewhere (`imports`), since that
needs Airtable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

DateOrder = Literal["iso", "mdy", "dmy"]

# The types the mapping screen offers for a new field, in the order it lists them.
IMPORT_TYPES: tuple[str, ...] = (
    "singleLineText",
    "multilineText",
    "number",
    "currency",
    "percent",
    "date",
    "dateTime",
    "checkbox",
    "singleSelect",
    "multipleSelects",
    "email",
    "url",
    "phoneNumber",
    "multipleRecordLinks",
)

_TRUE = frozenset({"true", "yes", "y", "checked", "x", "✓", "✔", "on"})
_FALSE = frozenset({"false", "no", "n", "unchecked", "off", ""})
_CURRENCY_SYMBOLS = "$€£¥₹"
_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$|^[+-]?\.\d+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^(https?://|www\.)\S+$", re.IGNORECASE)
_PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
_SLASHED = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_PART = re.compile(r"^(.*?)[T ](\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)\s*(Z|[+-]\d{2}:?\d{2})?$")
_MONTH_NAMES = ("%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y")
# Most distinct values, and most share of the filled cells, for a select guess.
_SELECT_MAX_OPTIONS = 30
_SELECT_MAX_SHARE = 0.5
_SHORT_TEXT = 255


@dataclass(frozen=True)
class ColumnGuess:
    """The field type a column looks like.

    Attributes:
        type: An Airtable field type (one of `IMPORT_TYPES`).
        options: The select options seen, in the order they first appear.
        symbol: The currency symbol seen (currency).
        precision: Decimals seen (number, currency, percent).
        date_order: How slashed dates read (date, dateTime).
        why: One line for the mapping screen ("12 distinct values").
    """

    type: str
    options: list[str] = field(default_factory=list)
    symbol: str = "$"
    precision: int = 0
    date_order: DateOrder = "iso"
    why: str = ""


def _filled(values: list[str]) -> list[str]:
    return [v.strip() for v in values if v.strip()]


def parse_number(text: str) -> float | None:
    """A number as people write it ("1,200.50", "-3", ".5"), or None."""
    text = text.strip().replace(" ", "")
    if not _NUMBER.match(text):
        return None
    return float(text.replace(",", ""))


def _decimals(text: str) -> int:
    return len(text.rsplit(".", 1)[1]) if "." in text else 0


def _currency(text: str) -> tuple[str, float] | None:
    text = text.strip()
    for symbol in _CURRENCY_SYMBOLS:
        if text.startswith(symbol) or text.startswith("-" + symbol):
            number = parse_number(text.replace(symbol, "", 1))
            return (symbol, number) if number is not None else None
        if text.endswith(symbol):
            number = parse_number(text[:-1])
            return (symbol, number) if number is not None else None
    return None


def _percent(text: str) -> float | None:
    text = text.strip()
    if not text.endswith("%"):
        return None
    number = parse_number(text[:-1])
    return None if number is None else number / 100


def _slashed_parts(values: list[str]) -> list[tuple[int, int]]:
    parts = []
    for v in values:
        m = _SLASHED.match(v.split(" ")[0].split("T")[0])
        if m:
            parts.append((int(m.group(1)), int(m.group(2))))
    return parts


def date_order_of(values: list[str]) -> DateOrder:
    """How the column's slashed dates read: day first only when a first part is over 12."""
    parts = _slashed_parts(values)
    if not parts:
        return "iso"
    if any(a > 12 for a, _ in parts):
        return "dmy"
    return "mdy"


def parse_date(text: str, order: DateOrder) -> date | None:
    """A date as a spreadsheet writes it (ISO, slashed in `order`, month names), or None."""
    text = text.strip()
    if _ISO_DATE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    m = _SLASHED.match(text)
    if m:
        a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        month, day = (b, a) if order == "dmy" else (a, b)
        try:
            return date(year, month, day)
        except ValueError:
            return None
    for pattern in _MONTH_NAMES:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def parse_datetime(text: str, order: DateOrder) -> datetime | None:
    """A date and time (ISO or slashed, seconds and zone optional; no zone is UTC), or None."""
    text = text.strip()
    m = _TIME_PART.match(text)
    if not m:
        return None
    day = parse_date(m.group(1), order)
    if day is None:
        return None
    hours, rest = m.group(2).split(":", 1)
    zone = m.group(5)
    try:
        moment = datetime.fromisoformat(f"{day.isoformat()}T{hours.zfill(2)}:{rest}")
    except ValueError:
        return None
    if zone and zone != "Z":
        offset = zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
        moment = datetime.fromisoformat(moment.isoformat() + offset)
    else:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _all(values: list[str], test: Any) -> bool:
    return bool(values) and all(test(v) for v in values)


def _split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def guess_column(
    values: list[str], *, header: str = "", table_names: list[str] | None = None
) -> ColumnGuess:
    """The field type that fits every filled cell of a column.

    Args:
        values: The column's cells as text.
        header: The column's name: a column named like a table of the base links to it.
        table_names: The base's tables.

    Returns:
        The guess (single line text when nothing more specific fits).
    """
    filled = _filled(values)
    if not filled:
        return ColumnGuess("singleLineText", why="empty column")
    lowered = [v.lower() for v in filled]
    wanted = header.strip().casefold()
    for name in table_names or []:
        if wanted and wanted in (name.casefold(), name.casefold().rstrip("s")):
            return ColumnGuess("multipleRecordLinks", why=f"named like the table {name}")
    if _all(lowered, lambda v: v in _TRUE or v in _FALSE) and any(v in _TRUE for v in lowered):
        return ColumnGuess("checkbox", why="yes/no values")
    if _all(filled, lambda v: _percent(v) is not None):
        precision = max(_decimals(v.rstrip("% ")) for v in filled)
        return ColumnGuess("percent", precision=precision, why="values with %")
    currencies = [_currency(v) for v in filled]
    if all(c is not None for c in currencies):
        symbol = next(c[0] for c in currencies if c is not None)
        precision = max(2, max(_decimals(v) for v in filled))
        return ColumnGuess("currency", symbol=symbol, precision=min(precision, 7), why="money")
    if _all(filled, lambda v: parse_number(v) is not None):
        precision = min(8, max(_decimals(v) for v in filled))
        return ColumnGuess("number", precision=precision, why="numbers")
    order = date_order_of(filled)
    if _all(filled, lambda v: parse_date(v, order) is not None):
        why = {"iso": "dates", "mdy": "dates, month first", "dmy": "dates, day first"}[order]
        return ColumnGuess("date", date_order=order, why=why)
    if _all(filled, lambda v: parse_datetime(v, order) is not None):
        return ColumnGuess("dateTime", date_order=order, why="dates with times")
    if _all(filled, _EMAIL.match):
        return ColumnGuess("email", why="email addresses")
    if _all(filled, _URL.match):
        return ColumnGuess("url", why="web addresses")
    if _all(filled, lambda v: _PHONE.match(v) and sum(c.isdigit() for c in v) >= 7):
        return ColumnGuess("phoneNumber", why="phone numbers")
    if any("\n" in v or len(v) > _SHORT_TEXT for v in filled):
        return ColumnGuess("multilineText", why="long or multi-line text")
    distinct = list(dict.fromkeys(filled))
    if (
        len(filled) >= 4
        and len(distinct) <= _SELECT_MAX_OPTIONS
        and len(distinct) <= len(filled) * _SELECT_MAX_SHARE
    ):
        return ColumnGuess("singleSelect", options=distinct, why=f"{len(distinct)} repeated values")
    if any("," in v for v in filled):
        parts = [p for v in filled for p in _split_list(v)]
        options = list(dict.fromkeys(parts))
        if len(options) <= _SELECT_MAX_OPTIONS and len(options) <= len(parts) * _SELECT_MAX_SHARE:
            return ColumnGuess("multipleSelects", options=options, why="comma-separated tags")
    return ColumnGuess("singleLineText", why="text")


def select_options(values: list[str], field_type: str) -> list[str]:
    """The options a new select field needs for these values, in order of appearance."""
    filled = _filled(values)
    if field_type == "multipleSelects":
        return list(dict.fromkeys(p for v in filled for p in _split_list(v)))
    return list(dict.fromkeys(filled))


def _match_option(name: str, choices: list[str]) -> str | None:
    if name in choices:
        return name
    same = [c for c in choices if c.casefold() == name.casefold()]
    return same[0] if len(same) == 1 else None


def convert(
    text: str,
    field_type: str,
    *,
    choices: list[str] | None = None,
    date_order: DateOrder = "iso",
) -> tuple[Any, str | None]:
    """One cell's text as the value a field of `field_type` takes.

    Args:
        text: The cell.
        field_type: The field's Airtable type (links are resolved by the caller).
        choices: A select field's options (an unknown option is a problem).
        date_order: How slashed dates read.

    Returns:
        (value, None), with None for an empty cell; or (None, why it cannot be read).
    """
    value = text.strip()
    if field_type in ("singleLineText", "multilineText", "richText"):
        return (text if text.strip() else None), None
    if not value:
        return (False, None) if field_type == "checkbox" else (None, None)
    if field_type in ("email", "url", "phoneNumber"):
        return value, None
    if field_type in ("number", "currency", "percent", "duration", "rating"):
        number = parse_number(value)
        if number is None and field_type in ("currency", "number"):
            money = _currency(value)
            number = money[1] if money else None
        if field_type == "percent":
            as_percent = _percent(value)
            number = as_percent if as_percent is not None else number
        if number is None:
            return None, f'"{value}" is not a number'
        return (int(number) if number.is_integer() and field_type != "percent" else number), None
    if field_type == "checkbox":
        lowered = value.lower()
        if lowered in _TRUE or lowered == "1":
            return True, None
        if lowered in _FALSE or lowered == "0":
            return False, None
        return None, f'"{value}" is not yes or no'
    if field_type == "date":
        day = parse_date(value, date_order)
        if day is None:
            moment = parse_datetime(value, date_order)
            day = moment.date() if moment else None
        if day is None:
            return None, f'"{value}" is not a date this column can read'
        return day.isoformat(), None
    if field_type == "dateTime":
        moment = parse_datetime(value, date_order)
        if moment is None:
            day = parse_date(value, date_order)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None
        if moment is None:
            return None, f'"{value}" is not a date and time this column can read'
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"), None
    if field_type == "singleSelect":
        option = _match_option(value, choices or [])
        if option is None:
            return None, f'"{value}" is not an option of the field'
        return option, None
    if field_type == "multipleSelects":
        names = []
        for part in _split_list(value):
            option = _match_option(part, choices or [])
            if option is None:
                return None, f'"{part}" is not an option of the field'
            names.append(option)
        return list(dict.fromkeys(names)), None
    return value, None
