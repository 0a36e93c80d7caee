"""``serve_scheduler``: one scheduler process (``plait scheduler``, and the one ``plait up``
starts). With Redis the lock lives there, so any number of these processes can run on any
machines and one leads; without Redis (an inline workspace) the lock is in this process: run
one scheduler only, it drives its runs itself."""

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

__all__ = ["scheduler_locks", "serve_scheduler"]

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
