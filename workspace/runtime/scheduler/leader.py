"""``Leadership``: one scheduler fires at a time, by holding a lock with a short TTL.

``hold()`` renews the lock when this process has it, else tries to take it; a leader that
stops renewing (dead, stalled, cut off from Redis) loses it when the TTL runs out and another
scheduler takes over at its next ``hold()``. A failing lock store counts as "not the leader":
better no fire than two. Two leaders at once (a stalled leader waking up after its TTL) can
still happen; fires are exactly-once anyway (see ``ScheduleRepository.save``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from workspace.errors import PlaitError
from workspace.queue.ports import Locks

__all__ = ["Leadership"]

log = logging.getLogger(__name__)


class Leadership:
    def __init__(
        self,
        locks: Locks,
        owner: str,
        *,
        name: str = "scheduler",
        ttl_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.locks = locks
        self.owner = owner
        self.name = name
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self._monotonic = monotonic
        self._leader = False
        self._since = 0.0

    @property
    def leader(self) -> bool:
        return self._leader

    def hold(self) -> bool:
        """Renew or take the lock; True while this process leads."""
        try:
            if self._leader and not self.locks.renew(self.name, self.owner, self.ttl_ms):
                self._leader = False
                log.warning("scheduler %s lost the leadership", self.owner)
            if not self._leader and self.locks.acquire(self.name, self.owner, self.ttl_ms):
                self._leader = True
                log.info("scheduler %s is the leader", self.owner)
        except PlaitError as exc:
            if self._leader:
                log.warning("scheduler %s cannot reach its lock (%s): standing by", self.owner, exc)
            self._leader = False
        if self._leader:
            self._since = self._monotonic()
        return self._leader

    def still(self) -> bool:
        """During a long tick: renew once half the TTL has passed; False if lost."""
        if not self._leader:
            return False
        if (self._monotonic() - self._since) * 1000 < self.ttl_ms / 2:
            return True
        return self.hold()

    def release(self) -> None:
        if not self._leader:
            return
        self._leader = False
        try:
            self.locks.release(self.name, self.owner)
        except PlaitError as exc:  # it expires by itself
            log.warning("scheduler %s could not release its lock: %s", self.owner, exc)
