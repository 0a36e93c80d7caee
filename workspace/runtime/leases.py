"""``LeaseKeeper``: holds the leases of the runs this process drives and proves it is alive.

Every ``interval_s`` it extends its leases (one UPDATE) and, for a worker, refreshes the
worker's row. A lease it finds taken by someone else (this process stalled longer than the
lease, and the sweeper handed the run on), or gone because the run ended (a terminal status
write drops the lease), is reported to ``on_lost`` so the engine stops driving that run at its
next step instead of running it twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from workspace.domain.operations import WorkerInfo
from workspace.domain.ports import Store
from workspace.domain.workflow import new_id, utcnow

log = logging.getLogger(__name__)


def process_owner_id() -> str:
    """A lease owner id unique to this process and object: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[:8]}"


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0


class LeaseKeeper:
    def __init__(
        self,
        store: Store,
        owner: str,
        *,
        ttl_s: float,
        interval_s: float,
        on_lost: Callable[[str], None] | None = None,
        register_worker: bool = False,
    ) -> None:
        self.store = store
        self.owner = owner
        self.ttl_s = ttl_s
        self.interval_s = interval_s
        self._on_lost = on_lost
        self._register = register_worker
        self._held: set[str] = set()
        #: the one thread of this process driving each run, and the threads waiting for it
        self._drivers: dict[str, _Slot] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = utcnow()

    def hold(
        self, run_id: str, wait_s: float = 5.0, *, claim: Callable[[], bool] | None = None
    ) -> bool:
        """Claim the run's lease; False if another live owner holds it, or another thread of
        this process still drives it after ``wait_s``. ``claim`` replaces the store's plain
        claim (e.g. ``LeaseRepository.start``, which also starts a queued run); it runs once
        this thread is the run's only driver in the process.

        The lease's owner is this process, so in the store a second thread's claim would
        succeed: one driver per run in the process is kept here. A thread that drove the run to
        a stable point and is about to ``drop`` it (an answer came in that moment) is waited
        for, so its ``drop`` cannot release the lease the next driver took."""
        with self._lock:
            slot = self._drivers.setdefault(run_id, _Slot())
            slot.users += 1
        if not slot.lock.acquire(timeout=wait_s):
            self._leave(run_id, slot, locked=False)
            return False
        try:
            if claim is None:
                claimed = self.store.leases.claim(run_id, self.owner, self.ttl_s)
            else:
                claimed = claim()
        except BaseException:
            self._leave(run_id, slot, locked=True)
            raise
        if not claimed:
            self._leave(run_id, slot, locked=True)
            return False
        with self._lock:
            self._held.add(run_id)
        self.start()
        return True

    def drop(self, run_id: str, *, released: bool = False) -> None:
        """Stop driving the run. ``released``: the run ended (a terminal status), and that
        write dropped its lease already, so there is nothing to write."""
        with self._lock:
            self._held.discard(run_id)
            slot = self._drivers.get(run_id)
        try:
            if not released:
                self.store.leases.release(run_id, self.owner)
        except Exception:  # the lease expires by itself; the sweeper finds nothing to do
            log.warning("could not release the lease of run %s", run_id, exc_info=True)
        finally:
            if slot is not None:
                self._leave(run_id, slot, locked=True)

    def _leave(self, run_id: str, slot: _Slot, *, locked: bool) -> None:
        with self._lock:
            slot.users -= 1
            if slot.users == 0 and self._drivers.get(run_id) is slot:
                del self._drivers[run_id]
        if locked:
            slot.lock.release()

    def register_worker(self) -> None:
        """From now on also keep this process's row in the worker registry fresh."""
        self._register = True
        self.beat()
        self.start()

    @property
    def held(self) -> set[str]:
        with self._lock:
            return set(self._held)

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(
                target=self._loop, name=f"plait-leases-{self.owner}", daemon=True
            )
            self._thread.start()

    def beat(self) -> None:
        """One heartbeat (the loop calls this; tests may too)."""
        held = self.held
        if held:
            renewed = self.store.leases.heartbeat(self.owner, self.ttl_s)
            if renewed < len(held):
                self._find_lost(held)
        if self._register:
            now = utcnow()
            self.store.workers.beat(
                WorkerInfo(
                    id=self.owner,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=self._started_at,
                    heartbeat_at=now,
                )
            )

    def _find_lost(self, held: set[str]) -> None:
        for run_id in held:
            lease = self.store.leases.get(run_id)
            if lease.owner == self.owner:
                continue
            with self._lock:
                self._held.discard(run_id)
            if lease.owner is None:
                # the run ended (a terminal write drops the lease): by this process's driver a
                # moment ago, or by a worker that took it over while this one stalled; either
                # way there is nothing left to drive here
                log.debug("run %s ended; no lease to keep", run_id)
            else:
                log.warning("lost the lease of run %s to %s; stopping it here", run_id, lease.owner)
            if self._on_lost is not None:
                self._on_lost(run_id)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.beat()
            except Exception:  # the database is away: keep trying, leases may lapse
                log.warning("heartbeat failed", exc_info=True)

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)
        if self._register:
            try:
                self.store.workers.remove(self.owner)
            except Exception:
                log.warning("could not unregister worker %s", self.owner, exc_info=True)
