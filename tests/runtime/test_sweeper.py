"""The sweeper re-sends runs nobody drives — but not, while the task queue has a backlog, the
queued runs whose tasks may still be in it (re-sending them would only pile duplicates on a
queue that is behind already)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

from tests.contracts.storekit import make_run, make_workflow
from workspace.domain.run import RunStatus
from workspace.domain.workflow import utcnow
from workspace.queue.ports import Task
from workspace.runtime.sweeper import Sweeper
from workspace.store import MemoryStore


@dataclass
class ListQueue:
    """Sends into a list; ``waiting`` is its backlog (None: the queue cannot say)."""

    waiting: int | None = 0
    sent: list[Task] = field(default_factory=list)

    def send(self, task: Task, *, delay_ms: int = 0) -> str:
        self.sent.append(task)
        return f"m{len(self.sent)}"

    def backlog(self) -> int:
        if self.waiting is None:
            raise ConnectionError("redis is down")
        return self.waiting

    def close(self) -> None:
        pass


def _setup() -> tuple[MemoryStore, str, str]:
    store = MemoryStore()
    wf = make_workflow(store)
    queued = make_run(store, wf, created_at=utcnow() - timedelta(seconds=120))
    dead = make_run(store, wf)
    store.runs.transition(dead.id, RunStatus.RUNNING)
    assert store.leases.claim(dead.id, "w-dead", 0.05)
    time.sleep(0.1)
    return store, queued.id, dead.id


def _sweeper(store: MemoryStore, queue: ListQueue) -> Sweeper:
    return Sweeper(store, queue, interval_s=60, queued_grace_s=30, requeue_ttl_s=30)


def test_a_backlog_holds_back_queued_runs_but_not_dead_drivers() -> None:
    store, queued, dead = _setup()
    queue = ListQueue(waiting=500)
    assert _sweeper(store, queue).sweep() == 1
    assert [t.run_id for t in queue.sent] == [dead]
    queue.waiting = 0  # the queue drained and the run is still queued: its task was lost
    assert _sweeper(store, queue).sweep() == 1
    assert [t.run_id for t in queue.sent] == [dead, queued]


def test_a_queue_that_cannot_tell_its_backlog_is_swept_as_before() -> None:
    store, queued, dead = _setup()
    queue = ListQueue(waiting=None)
    assert _sweeper(store, queue).sweep() == 2
    assert {t.run_id for t in queue.sent} == {queued, dead}
