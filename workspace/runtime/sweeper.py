"""``Sweeper``: nothing stays ``running`` (or ``queued``) forever, and timers fire.

Each pass hands runs whose lease lapsed (their worker died) or whose task was lost back to the
queue as ``recover`` tasks, and sends ``wake`` tasks for waiting runs whose wake time passed.
Every hand-over is a compare-and-set in the database, so any number of sweepers (one per
worker process) can run side by side without sending a task twice.
"""

from __future__ import annotations

import logging
import threading

from workspace.domain.ports import Store
from workspace.queue.ports import Task, TaskQueue

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(
        self,
        store: Store,
        queue: TaskQueue,
        *,
        interval_s: float,
        queued_grace_s: float,
        requeue_ttl_s: float,
    ) -> None:
        self.store = store
        self.queue = queue
        self.interval_s = interval_s
        self.queued_grace_s = queued_grace_s
        self.requeue_ttl_s = requeue_ttl_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._passes = 0

    def sweep(self) -> int:
        """One pass; returns how many tasks it sent."""
        sent = 0
        leases = self.store.leases
        # queued runs wait for their tasks while the queue has a backlog: re-sending them then
        # would only add duplicates to a queue that is behind already (load amplification)
        for lease in leases.stale(grace_s=self.queued_grace_s, queued=self._queue_is_empty()):
            if leases.requeue(lease, self.requeue_ttl_s):
                log.warning("run %s has no live driver; re-enqueued to recover", lease.run_id)
                self.queue.send(Task("recover", lease.run_id))
                sent += 1
        for lease in leases.due():
            # the wake time moves on rather than vanishing: if the task is lost (or finds the
            # run busy), the run is woken again then
            if leases.take_wake(lease, retry_after_s=self.requeue_ttl_s):
                self.queue.send(Task("wake", lease.run_id))
                sent += 1
        self._passes += 1
        if self._passes % 60 == 0:
            self.store.deliveries.purge()
        return sent

    def _queue_is_empty(self) -> bool:
        try:
            return self.queue.backlog() == 0
        except Exception:  # cannot tell (Redis away): look at every stale run, as before
            return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="plait-sweeper", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sweep()
            except Exception:  # database or Redis away: try again next pass
                log.warning("sweep failed", exc_info=True)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
