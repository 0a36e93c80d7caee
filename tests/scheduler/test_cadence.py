"""Slot arithmetic: intervals on their grid, cron in an IANA zone across DST changes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from workspace.runtime.scheduler.cadence import CronCadence, IntervalCadence

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(zone: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=zone, fold=fold).astimezone(UTC)  # type: ignore[misc]


def walk(cadence: CronCadence | IntervalCadence, start: datetime, n: int) -> list[datetime]:
    out, t = [], start
    for _ in range(n):
        t = cadence.next_after(t)
        out.append(t)
    return out


def test_interval_slots_keep_their_grid() -> None:
    anchor = utc(2026, 1, 1, 0, 0, 0)
    c = IntervalCadence(90, anchor)
    assert c.next_after(anchor) == anchor + timedelta(seconds=90)
    assert c.next_after(anchor - timedelta(seconds=1)) == anchor
    assert c.latest_until(anchor + timedelta(seconds=179)) == anchor + timedelta(seconds=90)
    assert c.latest_until(anchor + timedelta(seconds=180)) == anchor + timedelta(seconds=180)
    slots, total = c.recent(anchor, anchor + timedelta(seconds=900), 3)
    assert total == 4  # 11 slots, counted up to limit + 1
    assert slots == [anchor + timedelta(seconds=s) for s in (720, 810, 900)]
    assert c.recent(anchor, anchor + timedelta(seconds=100), 10) == (
        [anchor, anchor + timedelta(seconds=90)],
        2,
    )
    assert c.recent(anchor + timedelta(seconds=1), anchor, 5) == ([], 0)
    assert c.period(anchor) == 90
    with pytest.raises(ValueError):
        IntervalCadence(0, anchor)


def test_cron_in_a_zone_is_wall_clock_time() -> None:
    c = CronCadence("0 9 * * 1-5", "America/New_York")
    # Friday 2026-03-06 → Monday 09:00 EST; after the 8 March change, 09:00 EDT
    friday = local(NEW_YORK, 2026, 3, 6, 10, 0)
    slots = walk(c, friday, 3)
    assert slots == [utc(2026, 3, 9, 13), utc(2026, 3, 10, 13), utc(2026, 3, 11, 13)]
    assert walk(c, local(NEW_YORK, 2026, 3, 5, 10, 0), 1) == [utc(2026, 3, 6, 14)]  # EST
    assert c.latest_until(utc(2026, 3, 9, 13)) == utc(2026, 3, 9, 13)
    assert c.latest_until(utc(2026, 3, 9, 12, 59)) == utc(2026, 3, 6, 14)
    assert c.period(utc(2026, 3, 10, 12)) == 86_400


def test_a_daily_job_in_the_skipped_hour_fires_once_shifted() -> None:
    """Paris, 29 March 2026: 02:00 → 03:00. A 02:30 job fires at 03:30 that day, once."""
    c = CronCadence("30 2 * * *", "Europe/Paris")
    slots = walk(c, local(PARIS, 2026, 3, 27, 12, 0), 4)
    assert slots == [
        local(PARIS, 2026, 3, 28, 2, 30),
        local(PARIS, 2026, 3, 29, 3, 30),  # the wall time did not exist
        local(PARIS, 2026, 3, 30, 2, 30),
        local(PARIS, 2026, 3, 31, 2, 30),
    ]
    assert [s.astimezone(PARIS).hour for s in slots] == [2, 3, 2, 2]


def test_a_daily_job_in_the_repeated_hour_fires_once() -> None:
    """Paris, 25 October 2026: 03:00 → 02:00. A 02:30 job fires at the first 02:30 only."""
    c = CronCadence("30 2 * * *", "Europe/Paris")
    slots = walk(c, local(PARIS, 2026, 10, 23, 12, 0), 4)
    assert slots == [
        local(PARIS, 2026, 10, 24, 2, 30),
        local(PARIS, 2026, 10, 25, 2, 30, fold=0),
        local(PARIS, 2026, 10, 26, 2, 30),
        local(PARIS, 2026, 10, 27, 2, 30),
    ]
    # from inside the second 02:xx hour, the next fire is the next day
    second_pass = local(PARIS, 2026, 10, 25, 2, 45, fold=1)
    assert c.next_after(second_pass) == local(PARIS, 2026, 10, 26, 2, 30)
    assert c.latest_until(second_pass) == local(PARIS, 2026, 10, 25, 2, 30, fold=0)


def test_a_sub_hourly_job_never_goes_backwards_across_dst() -> None:
    c = CronCadence("*/30 * * * *", "Europe/Paris")
    for start in (local(PARIS, 2026, 10, 25, 0, 10), local(PARIS, 2026, 3, 29, 0, 10)):
        slots = walk(c, start, 10)
        assert slots == sorted(set(slots)), slots  # strictly increasing, no repeats
        gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(slots)}
        assert gaps <= {1800.0, 5400.0}
    back = walk(c, local(PARIS, 2026, 10, 25, 1, 10), 4)
    # 01:30, 02:00 (first), 02:30 (first), then 03:00: the repeated hour is not repeated
    assert [s.astimezone(PARIS).strftime("%H:%M%z") for s in back] == [
        "01:30+0200",
        "02:00+0200",
        "02:30+0200",
        "03:00+0100",
    ]
    # latest_until inside the repeated hour is the last slot before it, not an earlier one
    assert c.latest_until(local(PARIS, 2026, 10, 25, 2, 15, fold=1)) == local(
        PARIS, 2026, 10, 25, 2, 30, fold=0
    )


def test_cron_recent_and_period() -> None:
    c = CronCadence("0 * * * *", "UTC")
    slots, total = c.recent(utc(2026, 1, 1, 0), utc(2026, 1, 1, 10, 30), 3)
    assert slots == [utc(2026, 1, 1, 8), utc(2026, 1, 1, 9), utc(2026, 1, 1, 10)]
    assert total == 4
    assert c.recent(utc(2026, 1, 1, 9, 30), utc(2026, 1, 1, 10, 30), 5) == (
        [utc(2026, 1, 1, 10)],
        1,
    )
    assert c.period(utc(2026, 1, 1, 9, 30)) == 3600
    # the period around a DST night (Paris, daily): 23 hours in spring
    daily = CronCadence("0 12 * * *", "Europe/Paris")
    assert daily.period(local(PARIS, 2026, 3, 29, 1, 0)) == 23 * 3600
    with pytest.raises(ValueError):
        CronCadence("not cron", "UTC")
