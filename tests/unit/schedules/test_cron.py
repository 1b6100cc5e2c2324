"""Cron expressions in a time zone: validation, aliases, next due times across DST changes, catching up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from trainforge.errors import InvalidInput
from trainforge.schedules._cron import MAX_COUNTED_MISSES, CronSchedule


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def due_times(schedule: CronSchedule, start: datetime, until: datetime) -> list[datetime]:
    times, moment = [], schedule.next_after(start)
    while moment <= until:
        times.append(moment)
        moment = schedule.next_after(moment)
    return times


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("@hourly", utc(2026, 1, 1, 10, 15), utc(2026, 1, 1, 11)),
        ("@daily", utc(2026, 1, 1, 10, 15), utc(2026, 1, 2)),
        ("@midnight", utc(2026, 1, 1, 10, 15), utc(2026, 1, 2)),
        ("@weekly", utc(2026, 1, 1, 10, 15), utc(2026, 1, 4)),  # Sunday midnight
        ("@monthly", utc(2026, 1, 1, 10, 15), utc(2026, 2, 1)),
        ("@yearly", utc(2026, 1, 1, 10, 15), utc(2027, 1, 1)),
        ("0 3 * * *", utc(2026, 1, 1, 10, 15), utc(2026, 1, 2, 3)),
        ("*/15 * * * *", utc(2026, 1, 1, 10, 15), utc(2026, 1, 1, 10, 30)),  # strictly after
        ("0 9 * * MON-FRI", utc(2026, 1, 2, 10), utc(2026, 1, 5, 9)),  # Friday -> Monday
    ],
)
def test_next_due_time_in_utc(expression, after, expected):
    assert CronSchedule.parse(expression).next_after(after) == expected


def test_aliases_and_spacing_are_normalised():
    assert CronSchedule.parse("@DAILY").expression == "@daily"
    assert CronSchedule.parse("  0   3 * *  * ").expression == "0 3 * * *"


def test_the_cron_is_read_on_the_zones_wall_clock():
    nightly = CronSchedule.parse("0 3 * * *", "Europe/Berlin")
    assert nightly.next_after(utc(2026, 1, 10)) == utc(2026, 1, 10, 2)  # CET = UTC+1
    assert nightly.next_after(utc(2026, 7, 10)) == utc(2026, 7, 10, 1)  # CEST = UTC+2
    assert CronSchedule.parse("@daily", "America/New_York").next_after(utc(2026, 1, 10, 12)) == utc(2026, 1, 11, 5)


def test_daily_fires_once_a_day_across_the_spring_gap():
    # 2026-03-29 in Berlin: clocks jump from 02:00 to 03:00, so 02:30 does not exist that day.
    schedule = CronSchedule.parse("30 2 * * *", "Europe/Berlin")
    times = due_times(schedule, utc(2026, 3, 27), utc(2026, 3, 31, 12))
    assert times == [
        utc(2026, 3, 27, 1, 30),  # 02:30 CET
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1, 0),  # the missing 02:30 fires at 03:00 CEST, once
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
        utc(2026, 3, 31, 0, 30),
    ]


def test_daily_fires_once_a_day_across_the_autumn_repeat():
    # 2026-10-25 in Berlin: clocks go back from 03:00 to 02:00, so 02:30 happens twice that day.
    schedule = CronSchedule.parse("30 2 * * *", "Europe/Berlin")
    times = due_times(schedule, utc(2026, 10, 23), utc(2026, 10, 27, 12))
    assert times == [
        utc(2026, 10, 23, 0, 30),  # 02:30 CEST
        utc(2026, 10, 24, 0, 30),
        utc(2026, 10, 25, 0, 30),  # the first 02:30 only
        utc(2026, 10, 26, 1, 30),  # 02:30 CET
        utc(2026, 10, 27, 1, 30),
    ]


def test_hourly_fires_each_wall_clock_hour_once_when_clocks_go_back():
    schedule = CronSchedule.parse("@hourly", "Europe/Berlin")
    times = due_times(schedule, utc(2026, 10, 24, 22, 30), utc(2026, 10, 25, 3, 30))
    local = [moment.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M%z") for moment in times]
    assert local == ["01:00+0200", "02:00+0200", "03:00+0100", "04:00+0100"]  # no second 02:00


def test_utc_schedules_keep_exact_intervals():
    times = due_times(CronSchedule.parse("@hourly"), utc(2026, 10, 24, 22, 30), utc(2026, 10, 25, 3, 30))
    assert [b - a for a, b in pairwise(times)] == [timedelta(hours=1)] * (len(times) - 1)


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "   ",
        "* * * *",  # four fields
        "* * * * * *",  # seconds: not a five-field expression
        "0 0 * * * 2030",
        "61 * * * *",
        "0 25 * * *",
        "*/0 * * * *",
        "0 0 30 2 *",  # February 30th never comes
        "H * * * *",  # hashed: differs per caller
        "R 3 * * *",  # random
        "@reboot",
        "@every 5m",
        "not a cron",
        "0 0 * * * ; rm -rf /",
        "x" * 200,
    ],
)
def test_invalid_cron_is_refused_naming_the_field(expression):
    with pytest.raises(InvalidInput) as refused:
        CronSchedule.parse(expression, cron_field="cron")
    assert refused.value.field == "cron"


@pytest.mark.parametrize(
    "zone",
    ["", "Mars/Olympus_Mons", "Europe", "../../etc/passwd", "/etc/localtime", "Europe/Berlin\x00", "CET; x", "a" * 100],
)
def test_unknown_or_unsafe_zone_is_refused_naming_the_field(zone):
    with pytest.raises(InvalidInput) as refused:
        CronSchedule.parse("0 3 * * *", zone, timezone_field="timezone")
    assert refused.value.field == "timezone"


def test_one_string_form_with_an_optional_zone():
    berlin = CronSchedule.from_text("CRON_TZ=Europe/Berlin 0 3 * * *")
    assert berlin == CronSchedule("0 3 * * *", "Europe/Berlin")
    assert CronSchedule.from_text(berlin.text) == berlin
    assert CronSchedule.from_text("@weekly") == CronSchedule("@weekly", "UTC")
    assert CronSchedule.from_text("@weekly").text == "@weekly"
    for bad in ("CRON_TZ=Nowhere/Land 0 3 * * *", "CRON_TZ=Europe/Berlin", "every day"):
        with pytest.raises(InvalidInput) as refused:
            CronSchedule.from_text(bad)
        assert refused.value.field == "schedule"


def test_catch_up_counts_missed_due_times_and_lands_after_now():
    hourly = CronSchedule.parse("@hourly")
    assert hourly.catch_up(utc(2026, 1, 1, 1), utc(2026, 1, 1, 1, 0, 5)) == (0, utc(2026, 1, 1, 2))
    assert hourly.catch_up(utc(2026, 1, 1, 1), utc(2026, 1, 1, 6, 10)) == (5, utc(2026, 1, 1, 7))
    assert hourly.catch_up(utc(2026, 1, 1, 1), utc(2026, 1, 1, 6)) == (5, utc(2026, 1, 1, 7))  # 06:00 is due too


def test_catch_up_after_a_very_long_outage_is_bounded():
    every_minute = CronSchedule.parse("* * * * *")
    missed, upcoming = every_minute.catch_up(utc(2020, 1, 1), utc(2026, 1, 1, 12, 0, 30))
    assert missed == MAX_COUNTED_MISSES
    assert upcoming == utc(2026, 1, 1, 12, 1)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        CronSchedule.parse("@daily").next_after(datetime(2026, 1, 1))
