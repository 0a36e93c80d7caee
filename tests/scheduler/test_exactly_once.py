"""Exactly-once fires: two schedulers on one store (split brain: both think they lead) never
create two runs for one slot, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from tests.contracts.storekit import race
from tests.scheduler.kit import T0, ParkedLauncher, SwitchQueue, queue_launcher, rig, schedule_dsl
from workspace.errors import ConflictError
from workspace.runtime.scheduler import FakeClock, Scheduler
from workspace.runtime.workspace import Workspace


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_two_leaders_ticking_together_fire_each_slot_once(ws: Workspace) -> None:
    queue = SwitchQueue()
    clock = FakeClock(T0)
    a = rig(ws, launcher=queue_launcher(queue), clock=clock, owner="a")
    b = rig(ws, launcher=queue_launcher(queue), clock=clock, owner="b")  # its own lock
    sch = a.publish(schedule_dsl(config={"interval_s": 10, "overlap": "allow"}))
    for k in range(1, 6):
        clock.set(T0 + s(10 * k))
        results = race(a.scheduler.tick, b.scheduler.tick)
        assert not any(isinstance(r, Exception) for r in results), results
    runs = a.runs()
    stamps = [run.input["scheduled_at"] for run in runs]
    assert sorted(stamps) == [(T0 + s(10 * k)).isoformat() for k in range(1, 6)]
    assert len({t.message_id for t in queue.sent}) == len(queue.sent) == 5
    assert a.schedule(sch.id).fires == 5


def test_schedulers_acting_on_the_same_state_store_one_fire(ws: Workspace) -> None:
    parked = ParkedLauncher()
    clock = FakeClock(T0)
    a = rig(ws, launcher=parked, clock=clock, owner="a")
    b = rig(ws, launcher=parked, clock=clock, owner="b")
    sch = a.publish(schedule_dsl(config={"interval_s": 10}))
    clock.set(T0 + s(10))
    stale = a.schedule(sch.id)  # both read this, then both act on it
    barrier = threading.Barrier(2)

    def act(scheduler: Scheduler) -> Any:
        barrier.wait()
        return scheduler.process(stale)

    outcomes = race(lambda: act(a.scheduler), lambda: act(b.scheduler))
    won = [o for o in outcomes if not isinstance(o, Exception)]
    lost = [o for o in outcomes if isinstance(o, Exception)]
    assert len(won) == 1 and len(won[0]) == 1, outcomes
    assert len(lost) == 1 and isinstance(lost[0], ConflictError), outcomes
    assert [run.id for run in a.runs()] == [won[0][0].id]
    assert parked.launched == [won[0][0].id]  # the loser launched nothing
    after = a.schedule(sch.id)
    assert after.fires == 1 and after.rev == stale.rev + 1
