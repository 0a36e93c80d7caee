"""Following a run's events live, resumable from any ``seq`` (SPEC §6).

The database's event log is the truth; the event stream (Redis, or in memory) is the fast
path. A follower reads the stream and, whenever what it gets does not continue exactly at the
last ``seq`` it delivered (a gap: trimmed, expired, Redis restarted or unreachable, events
published out of order by parallel branches), reads the missing range from the database. So a
consumer sees every event once, in ``seq`` order, whatever happened to Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator

from workspace.domain.events import Event, EventType
from workspace.domain.ports import EventLog, RunRepository
from workspace.errors import PlaitError
from workspace.queue.ports import EventStream

log = logging.getLogger(__name__)

#: Events after which a run produces no more events.
FINAL_EVENTS = frozenset({EventType.RUN_SUCCEEDED, EventType.RUN_FAILED, EventType.RUN_CANCELLED})


class EventFollower:
    """Delivers the events of one run with ``seq > after``; ``done`` once the run finished."""

    def __init__(
        self,
        run_id: str,
        *,
        log_: EventLog,
        runs: RunRepository,
        stream: EventStream,
        after: int = 0,
        block_ms: int = 1000,
        until_final: bool = True,
    ) -> None:
        self.run_id = run_id
        self.last = max(0, after)
        self.done = False
        self._log = log_
        self._runs = runs
        self._stream = stream
        self._block_ms = block_ms
        self._until_final = until_final

    def poll(self, block_ms: int | None = None) -> list[Event]:
        """The next events (possibly none after waiting up to ``block_ms``)."""
        if self.done:
            return []
        wait = self._block_ms if block_ms is None else block_ms
        events = self._from_log()  # backlog first (cheap when there is none)
        if not events:
            live = self._from_stream(wait)
            events = live if _continues(live, self.last) else self._from_log()
            idle = not events and not live and self._until_final
            # nothing new: a run that is already over will never say more
            if idle and self._runs.get(self.run_id).status.terminal:
                events = self._from_log()
                if not events:
                    self.done = True
        return self._deliver(events)

    def _deliver(self, events: list[Event]) -> list[Event]:
        out: list[Event] = []
        for ev in events:
            if ev.seq != self.last + 1:
                break
            out.append(ev)
            self.last = ev.seq
            if self._until_final and ev.type in FINAL_EVENTS:
                self.done = True
                break
        return out

    def _from_log(self) -> list[Event]:
        return self._log.list(self.run_id, after=self.last, limit=500)

    def _from_stream(self, block_ms: int) -> list[Event]:
        try:
            return self._stream.read(self.run_id, after=self.last, block_ms=block_ms)
        except PlaitError as exc:  # Redis away: the database still has everything
            log.warning("event stream unavailable, reading the database: %s", exc)
            time.sleep(block_ms / 1000)
            return []

    def __iter__(self) -> Iterator[Event]:
        while not self.done:
            yield from self.poll()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while not self.done:
            for ev in await asyncio.to_thread(self.poll):
                yield ev


def _continues(events: list[Event], last: int) -> bool:
    return bool(events) and events[0].seq == last + 1
