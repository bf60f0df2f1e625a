"""Date/time helpers shared by cell coercion and the formula evaluator.

Everything is kept timezone-aware in UTC (the emulator has no per-base timezone), and formats use
Airtable's moment.js-style tokens (``YYYY-MM-DD``, ``h:mma``, ``LL`` ...).
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


def utcnow() -> datetime:
    """Current time, UTC, truncated to milliseconds like Airtable timestamps."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_iso(value: datetime) -> str:
    """Format as Airtable does: ``2024-01-05T10:20:30.000Z`` (UTC, milliseconds)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def format_date(value: datetime | date) -> str:
    """Format the calendar date part as ``YYYY-MM-DD``."""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


@lru_cache(maxsize=8192)
def parse_iso(text: str) -> datetime | None:
    """Parse an ISO-8601 date or datetime; naive values are taken as UTC.

    Cached because the same stored cell strings are parsed for every filter evaluation.
    """
    text = text.strip()
    if not text or not text[0].isdigit():
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_LOOSE_FORMATS = (
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M%p",
    "%m/%d/%y",
    "%m-%d-%Y",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M",
    "%B %d, %Y",
    "%B %d %Y",
    "%b %d, %Y",
    "%b %d %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d, %Y %I:%M %p",
    "%b %d, %Y %I:%M %p",
    "%Y%m%d",
)


@lru_cache(maxsize=4096)
def parse_loose(text: str) -> datetime | None:
    """Parse ISO first, then the common human formats Airtable's typecast understands."""
    value = parse_iso(text)
    if value is not None:
        return value
    cleaned = " ".join(text.strip().replace(",", ", ").split()).replace(" ,", ",")
    for fmt in _LOOSE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def from_epoch_ms(value: float) -> datetime:
    """Convert epoch milliseconds (which Airtable accepts for dateTime cells) to a datetime."""
    return EPOCH + timedelta(milliseconds=value)


def to_zone(value: datetime, tz_name: str) -> datetime:
    """Convert to the named IANA zone (``utc``/``client`` or unknown names fall back to UTC)."""
    if tz_name.lower() in ("utc", "client", "gmt", ""):
        return value.astimezone(UTC)
    try:
        return value.astimezone(ZoneInfo(tz_name))
    except (ZoneInfoNotFoundError, ValueError):
        return value.astimezone(UTC)


# --- units (DATEADD, DATETIME_DIFF, IS_SAME) -------------------------------------------------

_UNIT_ALIASES = {
    "milliseconds": "ms",
    "millisecond": "ms",
    "ms": "ms",
    "seconds": "s",
    "second": "s",
    "s": "s",
    "minutes": "m",
    "minute": "m",
    "m": "m",
    "hours": "h",
    "hour": "h",
    "h": "h",
    "days": "d",
    "day": "d",
    "d": "d",
    "weeks": "w",
    "week": "w",
    "w": "w",
    "months": "M",
    "month": "M",
    "M": "M",
    "quarters": "Q",
    "quarter": "Q",
    "Q": "Q",
    "years": "y",
    "year": "y",
    "y": "y",
}

_FIXED_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def normalize_unit(unit: str) -> str | None:
    """Map a moment.js unit to its canonical short form (``M`` is months, ``m`` minutes)."""
    unit = unit.strip()
    if unit in _UNIT_ALIASES:
        return _UNIT_ALIASES[unit]
    return _UNIT_ALIASES.get(unit.lower()) if len(unit) > 1 else None


def add_months(value: datetime, months: int) -> datetime:
    """Add calendar months, clamping the day like moment.js (Jan 31 + 1 month = Feb 28/29)."""
    month_index = value.year * 12 + value.month - 1 + months
    year, month = divmod(month_index, 12)
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)


def add_units(value: datetime, count: float, unit: str) -> datetime:
    """``DATEADD`` semantics for a canonical unit."""
    if unit in _FIXED_UNIT_SECONDS:
        return value + timedelta(seconds=count * _FIXED_UNIT_SECONDS[unit])
    months = int(count) * {"M": 1, "Q": 3, "y": 12}[unit]
    return add_months(value, months)


def diff_units(first: datetime, second: datetime, unit: str) -> int | float:
    """``DATETIME_DIFF(first, second, unit)``: first minus second, truncated toward zero."""
    if unit in _FIXED_UNIT_SECONDS:
        seconds = (first - second).total_seconds()
        if unit == "ms":
            return round(seconds * 1000)
        return int(seconds / _FIXED_UNIT_SECONDS[unit])
    months = (first.year - second.year) * 12 + (first.month - second.month)
    # Step back one month when the partial month has not been completed yet (moment.js diff).
    if months > 0 and add_months(second, months) > first:
        months -= 1
    elif months < 0 and add_months(second, months) < first:
        months += 1
    return int(months / {"M": 1, "Q": 3, "y": 12}[unit])


def truncate(value: datetime, unit: str) -> datetime:
    """Start of the unit containing ``value`` (used by ``IS_SAME``)."""
    if unit == "y":
        return value.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "Q":
        month = (value.month - 1) // 3 * 3 + 1
        return value.replace(month=month, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "M":
        return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "w":
        start = value - timedelta(days=(value.weekday() + 1) % 7)
        return start.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "d":
        return value.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "h":
        return value.replace(minute=0, second=0, microsecond=0)
    if unit == "m":
        return value.replace(second=0, microsecond=0)
    if unit == "s":
        return value.replace(microsecond=0)
    return value


# --- moment.js formatting and parsing ---------------------------------------------------------

_PRESETS = {
    "LTS": "h:mm:ss A",
    "LT": "h:mm A",
    "LLLL": "dddd, MMMM D, YYYY h:mm A",
    "LLL": "MMMM D, YYYY h:mm A",
    "LL": "MMMM D, YYYY",
    "L": "MM/DD/YYYY",
    "llll": "ddd, MMM D, YYYY h:mm A",
    "lll": "MMM D, YYYY h:mm A",
    "ll": "MMM D, YYYY",
    "l": "M/D/YYYY",
}

_TOKEN_RE = re.compile(
    r"\[[^\]]*\]|LTS|LT|LLLL|LLL|LL|L|llll|lll|ll|l|YYYY|YY|Q|MMMM|MMM|MM|M|Do|DDDD|DDD|DD|D"
    r"|dddd|ddd|dd|d|E|e|HH|H|hh|h|kk|k|mm|m|ss|s|SSS|SS|S|A|a|X|x|ZZ|Z|ww|w|WW|W"
)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _expand_presets(fmt: str) -> str:
    def repl(match: re.Match[str]) -> str:
        token = match.group(0)
        return _PRESETS.get(token, token)

    return _TOKEN_RE.sub(repl, fmt)


def _offset(value: datetime, colon: bool) -> str:
    offset = value.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}" if colon else f"{sign}{hours:02d}{mins:02d}"


def format_moment(value: datetime, fmt: str) -> str:
    """Format ``value`` with a moment.js format string (``DATETIME_FORMAT``)."""
    fmt = _expand_presets(fmt)
    sunday_weekday = (value.weekday() + 1) % 7
    hour12 = value.hour % 12 or 12

    def repl(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith("["):
            return token[1:-1]
        table: dict[str, object] = {
            "YYYY": f"{value.year:04d}",
            "YY": f"{value.year % 100:02d}",
            "Q": (value.month - 1) // 3 + 1,
            "MMMM": MONTHS[value.month - 1],
            "MMM": MONTHS[value.month - 1][:3],
            "MM": f"{value.month:02d}",
            "M": value.month,
            "Do": _ordinal(value.day),
            "DDDD": f"{value.timetuple().tm_yday:03d}",
            "DDD": value.timetuple().tm_yday,
            "DD": f"{value.day:02d}",
            "D": value.day,
            "dddd": WEEKDAYS[sunday_weekday],
            "ddd": WEEKDAYS[sunday_weekday][:3],
            "dd": WEEKDAYS[sunday_weekday][:2],
            "d": sunday_weekday,
            "e": sunday_weekday,
            "E": value.isoweekday(),
            "HH": f"{value.hour:02d}",
            "H": value.hour,
            "hh": f"{hour12:02d}",
            "h": hour12,
            "kk": f"{value.hour or 24:02d}",
            "k": value.hour or 24,
            "mm": f"{value.minute:02d}",
            "m": value.minute,
            "ss": f"{value.second:02d}",
            "s": value.second,
            "SSS": f"{value.microsecond // 1000:03d}",
            "SS": f"{value.microsecond // 10000:02d}",
            "S": value.microsecond // 100000,
            "A": "AM" if value.hour < 12 else "PM",
            "a": "am" if value.hour < 12 else "pm",
            "X": int(value.timestamp()),
            "x": int(value.timestamp() * 1000),
            "ZZ": _offset(value, colon=False),
            "Z": _offset(value, colon=True),
            "ww": f"{week_number(value, 0):02d}",
            "w": week_number(value, 0),
            "WW": f"{value.isocalendar()[1]:02d}",
            "W": value.isocalendar()[1],
        }
        return str(table.get(token, token))

    return _TOKEN_RE.sub(repl, fmt)


_PARSE_PATTERNS = {
    "YYYY": r"(?P<year>\d{4})",
    "YY": r"(?P<year2>\d{2})",
    "MMMM": r"(?P<monthname>[A-Za-z]+)",
    "MMM": r"(?P<monthname>[A-Za-z]+)",
    "MM": r"(?P<month>\d{1,2})",
    "M": r"(?P<month>\d{1,2})",
    "Do": r"(?P<day>\d{1,2})(?:st|nd|rd|th)",
    "DD": r"(?P<day>\d{1,2})",
    "D": r"(?P<day>\d{1,2})",
    "dddd": r"[A-Za-z]+",
    "ddd": r"[A-Za-z]+",
    "HH": r"(?P<hour>\d{1,2})",
    "H": r"(?P<hour>\d{1,2})",
    "hh": r"(?P<hour>\d{1,2})",
    "h": r"(?P<hour>\d{1,2})",
    "mm": r"(?P<minute>\d{1,2})",
    "m": r"(?P<minute>\d{1,2})",
    "ss": r"(?P<second>\d{1,2})",
    "s": r"(?P<second>\d{1,2})",
    "SSS": r"(?P<ms>\d{1,3})",
    "A": r"(?P<ampm>[AaPp][Mm])",
    "a": r"(?P<ampm>[AaPp][Mm])",
    "X": r"(?P<epoch>-?\d+(?:\.\d+)?)",
    "x": r"(?P<epochms>-?\d+)",
    "Z": r"(?P<tz>Z|[+-]\d{2}:?\d{2})",
    "ZZ": r"(?P<tz>Z|[+-]\d{2}:?\d{2})",
}


def parse_moment(text: str, fmt: str) -> datetime | None:
    """Parse ``text`` with a moment.js format (``DATETIME_PARSE(text, format)``)."""
    fmt = _expand_presets(fmt)
    pattern = []
    position = 0
    seen: set[str] = set()
    for match in _TOKEN_RE.finditer(fmt):
        pattern.append(re.escape(fmt[position : match.start()]))
        token = match.group(0)
        piece = (
            re.escape(token[1:-1]) if token.startswith("[") else _PARSE_PATTERNS.get(token, None)
        )
        if piece is None:
            piece = re.escape(token)
        # A named group may only appear once in a Python regex; later repeats just match text.
        for name in re.findall(r"\?P<(\w+)>", piece):
            if name in seen:
                piece = piece.replace(f"?P<{name}>", "?:")
            seen.add(name)
        pattern.append(piece)
        position = match.end()
    pattern.append(re.escape(fmt[position:]))
    found = re.fullmatch("".join(pattern), text.strip(), flags=re.IGNORECASE)
    if not found:
        return None
    parts = {k: v for k, v in found.groupdict().items() if v is not None}
    try:
        if "epoch" in parts:
            return EPOCH + timedelta(seconds=float(parts["epoch"]))
        if "epochms" in parts:
            return from_epoch_ms(float(parts["epochms"]))
        year = int(parts["year"]) if "year" in parts else None
        if year is None and "year2" in parts:
            year = (
                2000 + int(parts["year2"])
                if int(parts["year2"]) < 69
                else 1900 + int(parts["year2"])
            )
        month = int(parts.get("month", 1))
        if "monthname" in parts:
            name = parts["monthname"][:3].lower()
            month = [m[:3].lower() for m in MONTHS].index(name) + 1
        hour = int(parts.get("hour", 0))
        if "ampm" in parts:
            hour = hour % 12 + (12 if parts["ampm"].lower() == "pm" else 0)
        value = datetime(
            year if year is not None else utcnow().year,
            month,
            int(parts.get("day", 1)),
            hour,
            int(parts.get("minute", 0)),
            int(parts.get("second", 0)),
            int(parts.get("ms", "0").ljust(3, "0")) * 1000,
            tzinfo=UTC,
        )
    except (ValueError, IndexError):
        return None
    tz = parts.get("tz")
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        value -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return value


def week_number(value: datetime, start_day: int) -> int:
    """``WEEKNUM``: week of the year, weeks starting on ``start_day`` (0=Sunday, 1=Monday)."""
    jan1 = value.replace(month=1, day=1)
    jan1_weekday = (jan1.weekday() + 1) % 7  # Sunday = 0
    offset = (jan1_weekday - start_day) % 7
    return (value.timetuple().tm_yday - 1 + offset) // 7 + 1


def workday(start: datetime, days: int, holidays: set[date]) -> datetime:
    """``WORKDAY``: the date ``days`` working days after ``start`` (weekends, holidays skipped)."""
    step = 1 if days >= 0 else -1
    current = start
    remaining = abs(days)
    while remaining:
        current += timedelta(days=step)
        if current.weekday() < 5 and current.date() not in holidays:
            remaining -= 1
    return current


def workday_diff(start: datetime, end: datetime, holidays: set[date]) -> int:
    """``WORKDAY_DIFF``: working days between two dates, both ends included (like NETWORKDAYS)."""
    sign = 1
    first, last = start.date(), end.date()
    if last < first:
        first, last, sign = last, first, -1
    count = 0
    current = first
    while current <= last:
        if current.weekday() < 5 and current not in holidays:
            count += 1
        current += timedelta(days=1)
    return sign * count
