"""``Dispatcher``: where a run is driven — in this process, or by workers through the queue.

Without a task queue (a notebook on a workspace folder, ``plait run --inline``) runs are driven
in the calling process. With one (``plait up``, ``plait worker``), ``submit`` sends a task and
the worker that receives it calls :meth:`execute`: it claims the run's lease (one driver per
run), drives the engine to the next stable point (succeeded, failed, cancelled, waiting,
paused) and only then returns, so Dramatiq acknowledges the message only once the run's state
is safely in the database. A worker killed mid-run leaves a lapsed lease behind; the sweeper
hands the run to another worker, which continues from the last checkpoint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workspace.domain.events import EventType
from workspace.domain.run import Run, RunStatus
from workspace.errors import InvalidTransition, NotFoundError
from workspace.queue.ports import Task, TaskQueue
from workspace.runtime.follow import FINAL_EVENTS, EventFollower
from workspace.runtime.handoff import Handoff
from workspace.runtime.leases import LeaseKeeper

if TYPE_CHECKING:
    from workspace.runtime.workspace import Workspace

log = logging.getLogger(__name__)

#: Events after which a run needs someone (a person, a timer, a user) before it moves again.
STABLE_EVENTS = FINAL_EVENTS | {EventType.HUMAN_REQUESTED, EventType.RUN_PAUSED}
STABLE_STATUSES = frozenset(
    {
        RunStatus.SUCCEEDED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
        RunStatus.WAITING,
        RunStatus.PAUSED,
    }
)


class Dispatcher:
    def __init__(self, ws: Workspace, queue: TaskQueue | None, leases: LeaseKeeper) -> None:
        self.ws = ws
        self.queue = queue
        self.leases = leases
        #: sends the tasks of ``submit(..., soon=True)`` from one background thread
        self._sender: Handoff[Task] | None = None
        if queue is not None:
            self._sender = Handoff(
                self._send_all,
                name="plait-task-sender",
                what="tasks (their runs stay queued; the sweeper sends them again)",
            )

    def submit(self, run: Run, kind: str = "start", *, soon: bool = False) -> bool:
        """Hand the run to the workers. False if the queue could not take it: the run stays
        stored and the sweeper re-sends it once the queue is back (nothing is lost).

        ``soon``: send it from a background thread and return at once (a webhook answers
        ``202`` without waiting for Redis); the run is stored already, so a process that dies
        before the task is sent leaves a queued run the sweeper sends again."""
        if self.queue is None:
            raise RuntimeError("no task queue: drive the run inline")
        task = Task(kind, run.id)
        if soon and self._sender is not None and self._sender.put(task):
            return True
        try:
            self.queue.send(task)
        except Exception as exc:
            log.warning("could not enqueue run %s (%s); the sweeper will retry", run.id, exc)
            return False
        return True

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until the tasks handed off so far are sent; False on timeout."""
        return self._sender is None or self._sender.flush(timeout_s)

    def close(self) -> None:
        """Send the tasks handed off so far (bounded), then stop the sender."""
        if self._sender is not None:
            self._sender.close()

    def _send_all(self, tasks: Sequence[Task]) -> None:
        assert self.queue is not None
        for task in tasks:
            try:
                self.queue.send(task)
            except Exception as exc:
                log.warning(
                    "could not enqueue run %s (%s); the sweeper will retry", task.run_id, exc
                )

    def execute(self, task: Task) -> None:
        """The worker's task handler: drive the run to its next stable point."""
        store = self.ws.store
        try:
            run = store.runs.get(task.run_id)
        except NotFoundError:
            log.warning("task %s for unknown run %s dropped", task.kind, task.run_id)
            return
        if run.status.terminal or run.status == RunStatus.PAUSED:
            return
        keeper, run_id = self.leases, run.id
        queued = run.status == RunStatus.QUEUED
        started: list[Run] = []

        def claim() -> bool:
            # a queued run is started and leased in one write (a compare-and-set on its status)
            if queued and (got := store.leases.start(run_id, keeper.owner, keeper.ttl_s)):
                started.append(got)
                return True
            return store.leases.claim(run_id, keeper.owner, keeper.ttl_s)

        if not keeper.hold(run_id, claim=claim):
            return  # another live worker drives it
        ended = False
        try:
            # as it is now that we hold it
            run = started[0] if started else store.runs.get(run_id)
            graph = self.ws.graph_of(run)
            engine = self.ws.engine
            if started or run.status == RunStatus.QUEUED:
                run = self.ws.drive(run)  # (a started run is running: no second transition)
            elif run.status == RunStatus.RUNNING:
                run = engine.recover(run, graph)
            elif run.status == RunStatus.WAITING:  # an answer came, or its time did
                run = self.ws.timers.wake(run)
            # a terminal status drops the lease in the same write: no release to write
            ended = run.status.terminal
        except InvalidTransition:
            pass  # someone else moved the run first (cancelled, resumed): nothing to do
        finally:
            keeper.drop(run_id, released=ended)

    def wait(self, run_id: str, *, after: int = 0, timeout_s: float | None = None) -> Run:
        """Follow the run's events from ``after`` until it reaches a stable point."""
        ws = self.ws
        follower = EventFollower(
            run_id,
            log_=ws.store.events,
            runs=ws.store.runs,
            stream=ws.stream,
            after=after,
            until_final=True,
        )
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not follower.done:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            block = 1000 if left is None else max(1, min(1000, int(left * 1000)))
            if any(ev.type in STABLE_EVENTS for ev in follower.poll(block)):
                break
        return ws.store.runs.get(run_id)
