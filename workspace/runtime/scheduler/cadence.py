"""``Cadence``: the slots of a schedule — every N seconds, or a cron expression in an IANA time
zone — and the arithmetic the scheduler needs on them (next, latest, the missed ones, the
period around a time). All times are timezone-aware; results are UTC.

Cron and daylight saving time: a cron slot is a wall-clock time in the schedule's zone, and
each wall-clock time fires once. When clocks go forward, a wall time that does not exist that
day fires at the same distance past the change (02:30 on a 02:00→03:00 night fires at 03:30,
where 03:30 also fires only once); when clocks go back, a wall time that happens twice fires at
its first occurrence only (a daily 02:30 job runs once, not twice; ``*/30`` leaves one
hour without fires instead of repeating it).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from croniter import croniter

__all__ = ["Cadence", "CronCadence", "IntervalCadence"]

_TINY = timedelta(microseconds=1)
#: candidate wall times examined at most per lookup (DST can reject a few; a valid cron
#: expression always yields a slot well within this)
_MAX_CANDIDATES = 1_000


class Cadence(Protocol):
    def next_after(self, t: datetime) -> datetime:
        """The first slot strictly after ``t``."""
        ...

    def latest_until(self, t: datetime) -> datetime:
        """The last slot at or before ``t``."""
        ...

    def recent(self, start: datetime, end: datetime, limit: int) -> tuple[list[datetime], int]:
        """The newest ``limit`` slots in ``[start, end]``, oldest first, and how many slots
        that range holds (counted up to ``limit + 1``: more means more than ``limit``)."""
        ...

    def period(self, t: datetime) -> float:
        """Seconds between the slot at or before ``t`` and the one after it."""
        ...


class IntervalCadence:
    """Every ``seconds``, on the grid through ``anchor``."""

    def __init__(self, seconds: float, anchor: datetime) -> None:
        if seconds <= 0:
            raise ValueError("an interval must be positive")
        self.seconds = seconds
        self.anchor = anchor.astimezone(UTC)
        self._step = timedelta(seconds=seconds)

    def _index(self, t: datetime) -> int:
        return math.floor((t - self.anchor) / self._step)

    def _slot(self, k: int) -> datetime:
        return self.anchor + k * self._step

    def next_after(self, t: datetime) -> datetime:
        k = self._index(t) + 1
        while self._slot(k) <= t:  # float rounding at the boundary
            k += 1
        return self._slot(k)

    def latest_until(self, t: datetime) -> datetime:
        k = self._index(t)
        while self._slot(k) > t:
            k -= 1
        return self._slot(k)

    def recent(self, start: datetime, end: datetime, limit: int) -> tuple[list[datetime], int]:
        if end < start:
            return [], 0
        first = self._index(start)
        if self._slot(first) < start:
            first += 1
        last = self._index(end)
        while self._slot(last) > end:
            last -= 1
        total = max(0, last - first + 1)
        take = min(total, limit)
        return [self._slot(k) for k in range(last - take + 1, last + 1)], min(total, limit + 1)

    def period(self, t: datetime) -> float:
        return self.seconds


class CronCadence:
    """A cron expression (croniter syntax) in the IANA zone ``timezone``."""

    def __init__(self, expression: str, timezone: str) -> None:
        if not croniter.is_valid(expression):
            raise ValueError(f"invalid cron expression {expression!r}")
        self.expression = expression
        self.zone = ZoneInfo(timezone)

    def _instant(self, wall: datetime) -> datetime:
        # fold=0: a repeated wall time is its first occurrence; a wall time inside a gap gets
        # the offset from before the change, i.e. lands as far past the change as it was meant
        return wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)

    def _wall(self, t: datetime) -> datetime:
        return t.astimezone(self.zone).replace(tzinfo=None)

    def _candidates(self, start_wall: datetime, *, forward: bool) -> Iterator[datetime]:
        it = croniter(self.expression, start_wall)
        for _ in range(_MAX_CANDIDATES):
            wall = it.get_next(datetime) if forward else it.get_prev(datetime)
            yield self._instant(wall)
        raise ValueError(f"cron expression {self.expression!r} yields no slot")

    def next_after(self, t: datetime) -> datetime:
        for instant in self._candidates(self._wall(t), forward=True):
            if instant > t:
                return instant
        raise AssertionError("unreachable")  # pragma: no cover

    def latest_until(self, t: datetime) -> datetime:
        # wall times are not monotonic in instants inside a repeated hour, so the backward
        # scan only finds *a* slot at or before t; walk forward from it to the last one
        found = next(i for i in self._candidates(self._wall(t) + _TINY, forward=False) if i <= t)
        while (following := self.next_after(found)) <= t:
            found = following
        return found

    def recent(self, start: datetime, end: datetime, limit: int) -> tuple[list[datetime], int]:
        if end < start:
            return [], 0
        out: list[datetime] = []
        slot = self.latest_until(end)
        while slot >= start and len(out) < limit + 1:
            out.append(slot)
            slot = self.latest_until(slot - _TINY)
        total = len(out)
        return sorted(out[:limit]), total

    def period(self, t: datetime) -> float:
        return (self.next_after(t) - self.latest_until(t)).total_seconds()
