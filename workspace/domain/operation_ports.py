"""Ports of the runtime's operations: users and API keys, run leases, the worker registry,
webhook deliveries (``workspace.domain.ports.Store`` gathers them with the others).
Implementations: ``workspace.store.memory_ops`` and the SQL store; the contract suite in
``tests/contracts/test_store_operations.py`` runs against each."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from workspace.domain.access import ApiKey, User
from workspace.domain.events import Event
from workspace.domain.operations import Lease, WorkerInfo
from workspace.domain.run import Run

__all__ = ["AccessRepository", "DeliveryRepository", "LeaseRepository", "WorkerRegistry"]


class AccessRepository(Protocol):
    """Users and their API keys (stored hashed)."""

    def create_user(self, user: User) -> User:
        """Raises ConflictError if the name is taken."""
        ...

    def get_user(self, user_id: str) -> User:
        """Raises NotFoundError."""
        ...

    def find_user(self, name: str) -> User | None: ...

    def list_users(self) -> builtins.list[User]:
        """Ordered by name."""
        ...

    def add_key(self, key: ApiKey) -> ApiKey: ...

    def list_keys(self, user_id: str | None = None) -> builtins.list[ApiKey]:
        """Oldest first; revoked keys included."""
        ...

    def revoke_key(self, key_id: str) -> ApiKey:
        """Idempotent. Raises NotFoundError."""
        ...

    def authenticate(self, secret: str) -> tuple[User, ApiKey] | None:
        """The user of a valid, unrevoked key (constant-time hash comparison), else None."""
        ...


class LeaseRepository(Protocol):
    """Who drives a run now (SPEC §4.6): one worker at a time, proven alive by heartbeats."""

    def claim(self, run_id: str, owner: str, ttl_s: float) -> bool:
        """Take the run's lease for ``owner`` if it is free (none, the queue's, expired or
        already ``owner``'s) and the run is not finished. False if someone else holds it."""
        ...

    def start(self, run_id: str, owner: str, ttl_s: float) -> Run | None:
        """A queued run becomes ``running`` (``started_at`` now) with ``owner``'s lease, in ONE
        write: a compare-and-set on the status, so of racing starters exactly one gets the run;
        the others get None (the run is not queued anymore: ``claim`` it to continue it).
        Raises NotFoundError."""
        ...

    def heartbeat(self, owner: str, ttl_s: float) -> int:
        """Extend every lease ``owner`` holds; returns how many."""
        ...

    def release(self, run_id: str, owner: str) -> None:
        """Drop ``owner``'s lease on the run (no-op if it does not hold it). A run's move to
        a terminal status drops its lease by itself (in the same write), so a driver that
        finished a run has nothing to release."""
        ...

    def expire(self, owner_prefix: str) -> int:
        """End now every lease whose owner starts with ``owner_prefix`` (a process known to be
        dead, e.g. ``host:pid:``), so the sweeper hands its runs on at its next pass instead of
        after the lease's time; returns how many."""
        ...

    def get(self, run_id: str) -> Lease:
        """Raises NotFoundError."""
        ...

    def stale(
        self, *, grace_s: float, limit: int = 100, queued: bool = True
    ) -> builtins.list[Lease]:
        """Queued or running runs nobody drives: the lease expired, or the run is queued, no
        lease was ever taken and it is older than ``grace_s`` (its task was lost). A running
        run without a lease is driven inline by the process that started it (``plait run``):
        only ``plait recover`` continues it.

        ``queued=False`` leaves out queued runs waiting for a task (no lease, or the one the
        queue holds): while the task queue has a backlog their tasks may still be in it."""
        ...

    def requeue(self, lease: Lease, ttl_s: float) -> bool:
        """Compare-and-set: hand a stale lease to the queue (owner ``queue``, expiring in
        ``ttl_s``) if it is unchanged since ``lease`` was read. Exactly one caller wins."""
        ...

    def set_wake(self, run_id: str, at: datetime | None) -> None:
        """When a waiting run must be woken (a wait node's deadline, a human timeout): the
        run's ``wake_at`` (the engine sets it with the ``waiting`` status in one write)."""
        ...

    def due(self, *, limit: int = 100) -> builtins.list[Lease]:
        """Waiting runs whose wake time has passed."""
        ...

    def take_wake(self, lease: Lease, *, retry_after_s: float | None = None) -> bool:
        """Compare-and-set on the wake time read in ``lease``: clear it, or with
        ``retry_after_s`` move it that far into the future (so a wake whose task is lost
        fires again unless the run left ``waiting`` meanwhile). Exactly one caller wins."""
        ...


class WorkerRegistry(Protocol):
    def beat(self, worker: WorkerInfo) -> None:
        """Insert or refresh the worker's row."""
        ...

    def alive(self, *, within_s: float) -> builtins.list[WorkerInfo]:
        """Workers whose last heartbeat is at most ``within_s`` old."""
        ...

    def remove(self, worker_id: str) -> None: ...


class DeliveryRepository(Protocol):
    """Webhook deduplication (SPEC §6) in the run's own transaction: a 202 is only answered
    once the run is stored, and a repeated delivery finds the first run."""

    def create_run(
        self,
        run: Run,
        *,
        workflow_id: str,
        trigger_id: str,
        key: str,
        ttl_s: float,
        events: Sequence[Event] = (),
        on_stored: Callable[[builtins.list[Event]], None] | None = None,
    ) -> tuple[Run, bool]:
        """Store ``run`` unless ``key`` was delivered within ``ttl_s``; returns the run of
        the delivery and whether it is new. A new run's first ``events`` (``run_queued``) are
        appended in the same transaction, and ``on_stored`` gets them once stored (as
        ``EventLog.record``); a repeated delivery stores no event."""
        ...

    def purge(self) -> int:
        """Delete expired delivery keys; returns how many."""
        ...
