"""Fakes of the queue tests: a task handler that records what it ran."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from workspace.queue.ports import Task


@dataclass
class Received:
    task: Task
    at: float  # time.monotonic()


@dataclass
class TaskRecorder:
    """A ``TaskHandler``: records each task; raises for run ids listed in ``fail_for``."""

    fail_for: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, task: Task) -> None:
        with self._changed:
            self.received.append(Received(task, time.monotonic()))
            self._changed.notify_all()
        if task.run_id in self.fail_for:
            raise RuntimeError(f"handler failed for {task.run_id} (on purpose)")

    def wait_for(self, run_id: str, *, timeout: float = 10.0) -> Received:
        with self._changed:
            self._changed.wait_for(lambda: self.find(run_id) is not None, timeout=timeout)
            found = self.find(run_id)
        assert found is not None, f"task for {run_id} not received within {timeout} s"
        return found

    def find(self, run_id: str) -> Received | None:
        return next((r for r in self.received if r.task.run_id == run_id), None)

    def count(self, run_id: str) -> int:
        with self._changed:
            return sum(1 for r in self.received if r.task.run_id == run_id)
