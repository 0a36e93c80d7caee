"""Helpers of the scheduler tests: a workspace's schedules driven by a fake clock, runs driven
synchronously (or parked, to keep them unfinished), and a task queue that can be switched off."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from workspace.domain.run import Run
from workspace.domain.schedule import Schedule
from workspace.errors import StoreError
from workspace.queue.memory import MemoryLocks
from workspace.queue.ports import Locks, Task
from workspace.runtime.scheduler import FakeClock, Scheduler
from workspace.runtime.scheduler.launcher import InlineLauncher, Launcher, QueueLauncher
from workspace.runtime.workspace import Workspace

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


ECHO: dict[str, Any] = {"id": "echo", "type": "transform", "template": "{{ trigger }}"}
FAIL: dict[str, Any] = {"id": "boom", "type": "test_flaky", "fail_times": 1000}


def schedule_dsl(
    slug: str = "tick",
    *,
    trigger_id: str = "every",
    config: dict[str, Any] | None = None,
    steps: list[dict[str, Any]] | None = None,
) -> str:
    """A workflow fired by a schedule: echoes its trigger (or runs ``steps``)."""
    doc = {
        "name": f"Tick {slug}",
        "slug": slug,
        "trigger": {"type": "schedule", "id": trigger_id, **(config or {"interval_s": 60})},
        "steps": steps or [ECHO],
    }
    return yaml.safe_dump(doc, sort_keys=False)


class ParkedLauncher:
    """Records launches and drives nothing: the runs stay queued (unfinished)."""

    confirms = False

    def __init__(self) -> None:
        self.launched: list[str] = []

    def launch(self, run_id: str, fire_key: str) -> None:
        self.launched.append(run_id)


@dataclass
class SwitchQueue:
    """A TaskQueue that sends into a list, dedupes explicit ids, and can be down."""

    down: bool = False
    sent: list[Task] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, task: Task, *, delay_ms: int = 0) -> str:
        if self.down:
            raise StoreError(
                "enqueueing: Redis failed: connection refused", code="redis_unavailable"
            )
        with self.lock:
            mid = task.message_id or f"anon-{len(self.sent)}"
            if task.message_id is None or mid not in self.ids:
                self.ids.add(mid)
                self.sent.append(task)
        return mid

    def backlog(self) -> int:
        return 0  # what it sends is "received" at once

    def close(self) -> None:
        pass


@dataclass
class Rig:
    ws: Workspace
    clock: FakeClock
    scheduler: Scheduler

    def publish(self, text: str) -> Schedule:
        wf = self.ws.save(text)
        self.ws.publish(wf.slug)
        found = self.ws.store.schedules.list(workflow_id=wf.id)
        assert len(found) == 1, found
        return found[0]

    def schedule(self, schedule_id: str) -> Schedule:
        return self.ws.store.schedules.get(schedule_id)

    def at(self, when: datetime) -> list[Run]:
        self.clock.set(when)
        return self.scheduler.tick()

    def runs(self, slug: str = "tick") -> list[Run]:
        return sorted(self.ws.runs(slug, limit=1000), key=lambda r: r.created_at)


def rig(
    ws: Workspace,
    *,
    launcher: Launcher | None = None,
    clock: FakeClock | None = None,
    locks: Locks | None = None,
    owner: str = "s1",
    **settings: Any,
) -> Rig:
    if settings:
        ws.settings = ws.settings.model_copy(
            update={"scheduler": ws.settings.scheduler.model_copy(update=settings)}
        )
    clock = clock or FakeClock(T0)
    ws.workflows.schedule_sync.clock = clock
    scheduler = Scheduler(
        ws,
        locks or MemoryLocks(),
        owner=owner,
        clock=clock,
        launcher=launcher or InlineLauncher(ws, wait=True),
    )
    return Rig(ws, clock, scheduler)


def queue_launcher(queue: SwitchQueue) -> QueueLauncher:
    return QueueLauncher(queue)
