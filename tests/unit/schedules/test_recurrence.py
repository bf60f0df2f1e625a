"""Recurrence: the presets people pick, the cron they type, in their own time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pyairtable_ui.schedules import recurrence
from pyairtable_ui.schedules.recurrence import RecurrenceError


@pytest.mark.parametrize(
    ("kind", "weekday", "expected"),
    [
        ("daily", "", "30 9 * * *"),
        ("weekdays", "", "30 9 * * 1-5"),
        ("weekly", "mon", "30 9 * * 1"),
        ("weekly", "sun", "30 9 * * 0"),
    ],
)
def test_a_preset_becomes_the_cron_it_means_and_reads_back_as_itself(
    kind: str, weekday: str, expected: str
) -> None:
    cron = recurrence.build_cron(kind, at="09:30", weekday=weekday)

    assert cron == expected
    back = recurrence.parse_cron(cron)
    assert (back.kind, back.at, back.weekday) == (kind, "09:30", weekday)


def test_weekly_on_monday_at_nine_fires_at_nine_local_time_across_a_dst_change() -> None:
    cron = recurrence.build_cron("weekly", at="09:00", weekday="mon")
    # 2026-03-29 is when Paris moves from UTC+1 to UTC+2.
    after = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)

    runs = recurrence.next_runs(cron, "Europe/Paris", after=after, count=2)

    assert [r.strftime("%Y-%m-%d %H:%M %a") for r in runs] == [
        "2026-03-23 09:00 Mon",
        "2026-03-30 09:00 Mon",
    ]
    assert [r.astimezone(UTC).hour for r in runs] == [8, 7]


def test_the_next_run_is_in_the_schedules_time_zone_not_the_servers() -> None:
    after = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)  # already 2 June 08:30 in Tokyo

    [run] = recurrence.next_runs("0 9 * * *", "Asia/Tokyo", after=after, count=1)

    assert run.isoformat() == "2026-06-02T09:00:00+09:00"


@pytest.mark.parametrize(
    ("kind", "at", "weekday", "cron", "message"),
    [
        ("daily", "9am", "", "", "HH:MM"),
        ("daily", "24:00", "", "", "HH:MM"),
        ("weekly", "09:00", "", "", "day of the week"),
        ("hourly", "09:00", "", "", "how often"),
        ("cron", "", "", "0 9 * *", "five fields"),
        ("cron", "", "", "61 9 * * *", "not a valid cron"),
        ("cron", "", "", "*/5 * * * *", "every 15 minutes"),
        ("cron", "", "", "*/10 * * * * *", "five fields"),
    ],
)
def test_a_recurrence_that_cannot_be_used_says_how_to_fix_it(
    kind: str, at: str, weekday: str, cron: str, message: str
) -> None:
    with pytest.raises(RecurrenceError) as caught:
        recurrence.build_cron(kind, at=at, weekday=weekday, cron=cron)

    assert message in caught.value.message


def test_seconds_are_accepted_only_where_the_instance_allows_them() -> None:
    assert recurrence.check_cron("*/10 * * * * *", seconds_allowed=True) == "*/10 * * * * *"
    runs = recurrence.next_runs(
        "*/10 * * * * *", "UTC", after=datetime(2026, 1, 1, tzinfo=UTC), count=2
    )
    assert [r.second for r in runs] == [10, 20]


def test_a_typed_cron_that_is_no_preset_reads_back_as_cron_with_its_words() -> None:
    cron = recurrence.check_cron("  0  8   1 * * ")

    assert cron == "0 8 1 * *"
    assert recurrence.parse_cron(cron).kind == "cron"
    assert recurrence.describe(cron, "UTC") == "Cron “0 8 1 * *” (UTC)"
    assert recurrence.describe("0 9 * * 1", "Europe/Paris") == "Mondays at 09:00 (Europe/Paris)"


def test_an_unknown_time_zone_is_refused_by_name() -> None:
    assert recurrence.check_timezone(" Europe/Paris ") == "Europe/Paris"
    with pytest.raises(RecurrenceError) as caught:
        recurrence.check_timezone("Mars/Olympus")
    assert "Mars/Olympus" in caught.value.message
