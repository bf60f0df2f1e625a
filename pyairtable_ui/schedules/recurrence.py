"""When a schedule fires: the simple presets people pick, and the cron the engine runs.

A recurrence is stored as cron in the owner's time zone (the engine evaluates it there,
so "daily at 09:00" stays at 09:00 across daylight-saving changes). People choose
daily / weekdays / weekly at HH:MM, or type a 5-field cron; 6 fields with seconds
first are only accepted where the instance allows it (tests need a tick within seconds).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from pyairtable_ui.core.errors import UserFacingError

RecurrenceKind = Literal["daily", "weekdays", "weekly", "cron"]
KINDS: tuple[RecurrenceKind, ...] = ("daily", "weekdays", "weekly", "cron")
# Cron's day numbers (0 = Sunday), in the order a week is shown.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CRON_DAY = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
# Each run is a model conversation that costs tokens: a typed cron may not fire more often.
MIN_INTERVAL = timedelta(minutes=15)
_INTERVAL_SAMPLES = 12


class RecurrenceError(UserFacingError):
    """The recurrence or time zone cannot be used; `message` says how to fix it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Recurrence:
    """A recurrence as the form shows it.

    Attributes:
        kind: A preset, or ``cron`` for a typed expression.
        at: ``HH:MM`` for the presets ("" for cron).
        weekday: ``mon``..``sun`` for weekly ("" otherwise).
        cron: The cron expression the engine runs.
    """

    kind: RecurrenceKind
    at: str
    weekday: str
    cron: str


def check_timezone(name: str) -> str:
    """The IANA time zone name, checked (``Europe/Paris``, ``UTC``).

    Raises:
        RecurrenceError: Unknown name.
    """
    cleaned = name.strip()
    try:
        ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RecurrenceError(
            f"“{cleaned or name}” is not a time zone. Use a name such as Europe/Paris or UTC."
        ) from exc
    return cleaned


def build_cron(
    kind: str, *, at: str = "", weekday: str = "", cron: str = "", seconds_allowed: bool = False
) -> str:
    """The cron expression for what the form says.

    Args:
        kind: ``daily``, ``weekdays``, ``weekly`` or ``cron``.
        at: ``HH:MM`` (24-hour) for the presets.
        weekday: ``mon``..``sun`` for weekly.
        cron: The typed expression, for ``cron``.
        seconds_allowed: Accept a 6-field expression with seconds first.

    Returns:
        A valid cron expression.

    Raises:
        RecurrenceError: Unknown kind, a time that is not HH:MM, no weekday, or a cron
            expression that is invalid or fires more often than every 15 minutes.
    """
    if kind == "cron":
        return check_cron(cron, seconds_allowed=seconds_allowed)
    if kind not in KINDS:
        raise RecurrenceError("Choose how often it runs: daily, weekdays, weekly, or cron.")
    match = _TIME.match(at.strip())
    if match is None:
        raise RecurrenceError("Give the time as HH:MM, 24-hour (for example 09:00).")
    hour, minute = int(match.group(1)), int(match.group(2))
    if kind == "daily":
        return f"{minute} {hour} * * *"
    if kind == "weekdays":
        return f"{minute} {hour} * * 1-5"
    if weekday not in _CRON_DAY:
        raise RecurrenceError("Choose the day of the week it runs on.")
    return f"{minute} {hour} * * {_CRON_DAY[weekday]}"


def check_cron(expression: str, *, seconds_allowed: bool = False) -> str:
    """A typed cron expression, checked.

    Args:
        expression: Five fields (minute hour day month weekday), or six with seconds
            first when `seconds_allowed`.
        seconds_allowed: Accept the 6-field form.

    Returns:
        The expression with its spacing normalised.

    Raises:
        RecurrenceError: Wrong number of fields, not valid cron, or too frequent.
    """
    fields = expression.split()
    allowed = (5, 6) if seconds_allowed else (5,)
    if len(fields) not in allowed:
        raise RecurrenceError(
            "A cron expression has five fields: minute hour day-of-month month day-of-week "
            "(for example “0 9 * * 1” is Mondays at 09:00)."
        )
    cleaned = " ".join(fields)
    if not croniter.is_valid(cleaned, second_at_beginning=True):
        raise RecurrenceError(f"“{cleaned}” is not a valid cron expression.")
    if len(fields) == 5:
        times = next_runs(cleaned, "UTC", count=_INTERVAL_SAMPLES)
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        if gaps and min(gaps) < MIN_INTERVAL:
            raise RecurrenceError(
                "A schedule runs at most every 15 minutes: each run asks the model."
            )
    return cleaned


def next_runs(
    cron: str, timezone: str, *, after: datetime | None = None, count: int = 3
) -> list[datetime]:
    """The next times `cron` fires in `timezone`, as the engine computes them.

    Args:
        cron: A valid cron expression.
        timezone: An IANA time zone name.
        after: Start after this moment (now by default).
        count: How many times.

    Returns:
        Time-zone-aware datetimes in `timezone`, soonest first.
    """
    zone = ZoneInfo(timezone)
    start = (after or datetime.now(zone)).astimezone(zone)
    iterator = croniter(cron, start, second_at_beginning=True)
    return [iterator.get_next(datetime) for _ in range(count)]


def parse_cron(cron: str) -> Recurrence:
    """The form's view of a stored expression: a preset when it is one, else cron.

    Args:
        cron: A stored expression.

    Returns:
        The recurrence to fill the edit form with.
    """
    fields = cron.split()
    if len(fields) == 5 and fields[2:4] == ["*", "*"]:
        minute, hour, _, _, day = fields
        if minute.isdigit() and hour.isdigit():
            at = f"{int(hour):02d}:{int(minute):02d}"
            if day == "*":
                return Recurrence("daily", at, "", cron)
            if day == "1-5":
                return Recurrence("weekdays", at, "", cron)
            names = {str(v): k for k, v in _CRON_DAY.items()}
            if day in names:
                return Recurrence("weekly", at, names[day], cron)
    return Recurrence("cron", "", "", cron)


def describe(cron: str, timezone: str) -> str:
    """The recurrence in words, e.g. "Mondays at 09:00 (Europe/Paris)"."""
    recurrence = parse_cron(cron)
    if recurrence.kind == "daily":
        words = f"Every day at {recurrence.at}"
    elif recurrence.kind == "weekdays":
        words = f"Weekdays at {recurrence.at}"
    elif recurrence.kind == "weekly":
        words = f"{_DAY_NAMES[recurrence.weekday]}s at {recurrence.at}"
    else:
        words = f"Cron “{cron}”"
    return f"{words} ({timezone})"
