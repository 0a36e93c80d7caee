"""``serve_scheduler``: one scheduler process (``plait scheduler``, and the one ``plait up``
starts); ``SchedulerThread``: the same loop in a thread of this process (a notebook kernel).
With Redis the lock lives there, so any number of these can run on any machines and one leads;
without Redis (an inline workspace) the lock is in this process: run one scheduler only, it
drives its runs itself."""

from __future__ import annotations

import logging
import threading

from workspace.queue.dramatiq_queue import DramatiqTaskQueue
from workspace.queue.memory import MemoryLocks
from workspace.queue.ports import Locks
from workspace.queue.redis_locks import RedisLocks
from workspace.runtime.leases import process_owner_id
from workspace.runtime.scheduler.scheduler import Scheduler
from workspace.runtime.workspace import Workspace

__all__ = ["SchedulerThread", "scheduler_locks", "serve_scheduler"]

log = logging.getLogger(__name__)


def scheduler_locks(ws: Workspace) -> Locks:
    """Redis locks on the workspace's Redis, else process-local ones."""
    if isinstance(ws.queue, DramatiqTaskQueue):
        return RedisLocks(ws.queue.broker.client)
    log.warning("no Redis: the scheduler's lock is local to this process (run only one)")
    return MemoryLocks()


def serve_scheduler(ws: Workspace, stop: threading.Event) -> None:
    scheduler = Scheduler(ws, scheduler_locks(ws), owner=f"scheduler-{process_owner_id()}")
    scheduler.serve(stop)


class SchedulerThread:
    """The scheduler role in a daemon thread of this process (``Workspace.start_scheduler``):
    what ``plait scheduler`` runs, for a notebook kernel or a script. ``stop()`` ends it; it is
    also a context manager."""

    def __init__(self, ws: Workspace) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=serve_scheduler, args=(ws, self._stop), daemon=True, name="plait-scheduler"
        )

    def start(self) -> SchedulerThread:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Stop the loop (a fire in progress finishes first); True once the thread ended."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def __enter__(self) -> SchedulerThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
