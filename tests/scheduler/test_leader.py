"""One leader among schedulers, on a real Redis lock: only the leader fires; when it stops
renewing (dead or stalled) another takes over within the lock's TTL."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.scheduler.kit import T0, ParkedLauncher, rig, schedule_dsl
from workspace.queue.redis_locks import RedisLocks
from workspace.runtime.scheduler import FakeClock
from workspace.runtime.scheduler.leader import Leadership
from workspace.runtime.workspace import Workspace

pytestmark = pytest.mark.redis

TTL_S = 1.0


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_only_the_leader_fires_and_another_takes_over(
    mem_ws: Workspace, redis_locks: RedisLocks
) -> None:
    parked = ParkedLauncher()
    clock = FakeClock(T0)
    common = {"lock_ttl_s": TTL_S, "launcher": parked, "clock": clock, "locks": redis_locks}
    a = rig(mem_ws, owner="a", **common)  # type: ignore[arg-type]
    b = rig(mem_ws, owner="b", **common)  # type: ignore[arg-type]
    sch = a.publish(schedule_dsl(config={"interval_s": 10, "overlap": "allow"}))

    clock.set(T0 + s(10))
    assert len(a.scheduler.tick()) == 1
    assert b.scheduler.tick() == []  # standing by: fires nothing
    assert a.scheduler.leadership.leader and not b.scheduler.leadership.leader
    assert redis_locks.owner("scheduler") == "a"
    clock.set(T0 + s(20))
    assert b.scheduler.tick() == []
    assert len(a.scheduler.tick()) == 1

    # the leader dies without releasing its lock (no more renewals): b takes over within TTL
    died = time.monotonic()
    clock.set(T0 + s(30))
    taken_over = None
    while time.monotonic() - died < TTL_S + 10:
        fired = b.scheduler.tick()
        if fired:
            taken_over = time.monotonic() - died
            break
        time.sleep(0.05)
    assert taken_over is not None, "the standby never took over"
    assert taken_over >= TTL_S * 0.5  # not before the dead leader's lock lapsed
    assert redis_locks.owner("scheduler") == "b"
    # the old leader, back from a stall, finds it lost the lock and fires nothing
    clock.set(T0 + s(40))
    assert a.scheduler.tick() == []
    assert not a.scheduler.leadership.leader
    assert len(b.scheduler.tick()) == 1
    assert a.schedule(sch.id).fires == 4 and len(parked.launched) == 4


def test_a_stopping_leader_hands_over_at_once(redis_locks: RedisLocks) -> None:
    a = Leadership(redis_locks, "a", ttl_s=30)
    b = Leadership(redis_locks, "b", ttl_s=30)
    assert a.hold() and not b.hold()
    assert a.still()  # renewed less than half a TTL ago: no Redis call needed
    a.release()
    assert b.hold() and not a.hold()


def test_a_lock_store_that_fails_means_standing_by() -> None:
    from workspace.errors import StoreError

    class DownLocks:
        """The Locks port on a Redis that is down."""

        def _down(self) -> bool:
            raise StoreError("lock: Redis failed: connection refused", code="redis_unavailable")

        def acquire(self, name: str, owner: str, ttl_ms: int) -> bool:
            return self._down()

        def renew(self, name: str, owner: str, ttl_ms: int) -> bool:
            return self._down()

        def release(self, name: str, owner: str) -> bool:
            return self._down()

        def owner(self, name: str) -> str | None:
            return None

        def claim_once(self, key: str, ttl_ms: int) -> bool:
            return self._down()

    lead = Leadership(DownLocks(), "a", ttl_s=5)
    assert not lead.hold() and not lead.still()
    lead.release()  # nothing held: no call
