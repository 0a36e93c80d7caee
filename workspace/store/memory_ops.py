"""In-memory access, lease, worker and delivery repositories (the contract suite's reference).

They share the memory store's ``_Data`` lock, so a lease and the run status it depends on are
read and written atomically together, as in one SQL statement.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from workspace.domain.access import ApiKey, User, key_prefix, secret_matches
from workspace.domain.events import Event
from workspace.domain.operations import QUEUE_OWNER, Lease, WorkerInfo
from workspace.domain.run import Run, RunStatus, check_transition
from workspace.domain.workflow import utcnow
from workspace.errors import ConflictError, NotFoundError
from workspace.store._codec import normalize_run, run_changes, utc_or_none

if TYPE_CHECKING:
    from workspace.store.memory import MemoryEventLog, _Data, _RunState

__all__ = [
    "MemoryAccessRepository",
    "MemoryDeliveryRepository",
    "MemoryLeaseRepository",
    "MemoryWorkerRegistry",
]


class MemoryAccessRepository:
    def __init__(self, data: _Data) -> None:
        self._d = data
        self._users: dict[str, User] = {}
        self._keys: dict[str, ApiKey] = {}

    def create_user(self, user: User) -> User:
        with self._d.lock:
            if any(u.name == user.name for u in self._users.values()):
                raise ConflictError(
                    f"a user named {user.name!r} already exists", code="user_exists"
                )
            self._users[user.id] = user.model_copy()
        return user.model_copy()

    def get_user(self, user_id: str) -> User:
        with self._d.lock:
            user = self._users.get(user_id)
        if user is None:
            raise NotFoundError(f"user {user_id!r} not found", code="user_not_found")
        return user.model_copy()

    def find_user(self, name: str) -> User | None:
        with self._d.lock:
            found = next((u for u in self._users.values() if u.name == name), None)
        return None if found is None else found.model_copy()

    def list_users(self) -> builtins.list[User]:
        with self._d.lock:
            return sorted((u.model_copy() for u in self._users.values()), key=lambda u: u.name)

    def add_key(self, key: ApiKey) -> ApiKey:
        with self._d.lock:
            if key.user_id not in self._users:
                raise NotFoundError(f"user {key.user_id!r} not found", code="user_not_found")
            self._keys[key.id] = key.model_copy()
        return key.model_copy()

    def list_keys(self, user_id: str | None = None) -> builtins.list[ApiKey]:
        with self._d.lock:
            keys = [k for k in self._keys.values() if user_id is None or k.user_id == user_id]
        return [k.model_copy() for k in sorted(keys, key=lambda k: (k.created_at, k.id))]

    def revoke_key(self, key_id: str) -> ApiKey:
        with self._d.lock:
            key = self._keys.get(key_id)
            if key is None:
                raise NotFoundError(f"API key {key_id!r} not found", code="key_not_found")
            if key.revoked_at is None:
                key = self._keys[key_id] = key.model_copy(update={"revoked_at": utcnow()})
            return key.model_copy()

    def authenticate(self, secret: str) -> tuple[User, ApiKey] | None:
        prefix = key_prefix(secret)
        if prefix is None:
            return None
        with self._d.lock:
            key = next((k for k in self._keys.values() if k.prefix == prefix), None)
            if key is None or key.revoked_at is not None or not secret_matches(key, secret):
                return None
            key = self._keys[key.id] = key.model_copy(update={"last_used_at": utcnow()})
            user = self._users.get(key.user_id)
            if user is None:
                return None
            return user.model_copy(), key.model_copy()


class MemoryLeaseRepository:
    def __init__(self, data: _Data) -> None:
        self._d = data

    def _lease(self, run_id: str) -> tuple[_RunState, Lease]:
        """The run's lease; its wake time is the run's (one field, as the ``runs`` column)."""
        state = self._d.run_state(run_id)
        lease = self._d.leases.get(run_id) or Lease(run_id=run_id, owner=None, until=None)
        if lease.wake_at != state.run.wake_at:
            lease = lease.model_copy(update={"wake_at": state.run.wake_at})
        return state, lease

    def claim(self, run_id: str, owner: str, ttl_s: float) -> bool:
        now = utcnow()
        with self._d.lock:
            state, lease = self._lease(run_id)
            if state.run.status.terminal:
                return False
            free = (
                lease.owner in (None, QUEUE_OWNER, owner)
                or lease.until is None
                or lease.until < now
            )
            if not free:
                return False
            self._d.leases[run_id] = lease.model_copy(
                update={"owner": owner, "until": now + timedelta(seconds=ttl_s)}
            )
            return True

    def start(self, run_id: str, owner: str, ttl_s: float) -> Run | None:
        now = utcnow()
        with self._d.lock:
            state, lease = self._lease(run_id)
            if state.run.status != RunStatus.QUEUED:
                return None
            check_transition(RunStatus.QUEUED, RunStatus.RUNNING)
            state.run, _ = run_changes(state.run, {"started_at": now}, target=RunStatus.RUNNING)
            self._d.leases[run_id] = lease.model_copy(
                update={"owner": owner, "until": now + timedelta(seconds=ttl_s)}
            )
            return state.run.model_copy(deep=True)

    def heartbeat(self, owner: str, ttl_s: float) -> int:
        until = utcnow() + timedelta(seconds=ttl_s)
        with self._d.lock:
            mine = [k for k, v in self._d.leases.items() if v.owner == owner]
            for run_id in mine:
                self._d.leases[run_id] = self._d.leases[run_id].model_copy(update={"until": until})
            return len(mine)

    def release(self, run_id: str, owner: str) -> None:
        with self._d.lock:
            lease = self._d.leases.get(run_id)
            if lease is not None and lease.owner == owner:
                self._d.leases[run_id] = lease.model_copy(update={"owner": None, "until": None})

    def expire(self, owner_prefix: str) -> int:
        if not owner_prefix:
            return 0
        now = utcnow()
        with self._d.lock:
            theirs = [
                k
                for k, v in self._d.leases.items()
                if v.owner is not None and v.owner.startswith(owner_prefix)
            ]
            for run_id in theirs:
                self._d.leases[run_id] = self._d.leases[run_id].model_copy(update={"until": now})
            return len(theirs)

    def get(self, run_id: str) -> Lease:
        with self._d.lock:
            return self._lease(run_id)[1].model_copy()

    def stale(
        self, *, grace_s: float, limit: int = 100, queued: bool = True
    ) -> builtins.list[Lease]:
        now = utcnow()
        old = now - timedelta(seconds=grace_s)
        found: list[tuple[datetime, Lease]] = []
        with self._d.lock:
            for run_id, state in self._d.runs.items():
                if state.run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
                    continue
                lease = self._lease(run_id)[1]
                waiting = state.run.status == RunStatus.QUEUED and lease.owner in (
                    None,
                    QUEUE_OWNER,
                )
                if waiting and not queued:
                    continue
                never_claimed = lease.until is None and state.run.status == RunStatus.QUEUED
                if (lease.until is not None and lease.until < now) or (
                    never_claimed and state.run.created_at < old
                ):
                    found.append((state.run.created_at, lease.model_copy()))
        found.sort(key=lambda item: item[0])
        return [lease for _, lease in found[:limit]]

    def requeue(self, lease: Lease, ttl_s: float) -> bool:
        with self._d.lock:
            state, current = self._lease(lease.run_id)
            if state.run.status.terminal or current.until != lease.until:
                return False
            self._d.leases[lease.run_id] = current.model_copy(
                update={"owner": QUEUE_OWNER, "until": utcnow() + timedelta(seconds=ttl_s)}
            )
            return True

    def set_wake(self, run_id: str, at: datetime | None) -> None:
        with self._d.lock:
            state = self._d.run_state(run_id)
            state.run = state.run.model_copy(update={"wake_at": utc_or_none(at)})

    def due(self, *, limit: int = 100) -> builtins.list[Lease]:
        now = utcnow()
        with self._d.lock:
            found = [
                self._lease(run_id)[1].model_copy()
                for run_id, state in self._d.runs.items()
                if state.run.wake_at is not None
                and state.run.wake_at <= now
                and state.run.status == RunStatus.WAITING
            ]
        found.sort(key=lambda lease: lease.wake_at or now)
        return found[:limit]

    def take_wake(self, lease: Lease, *, retry_after_s: float | None = None) -> bool:
        with self._d.lock:
            state = self._d.runs.get(lease.run_id)
            if state is None or lease.wake_at is None or state.run.wake_at != lease.wake_at:
                return False
            later = None if retry_after_s is None else utcnow() + timedelta(seconds=retry_after_s)
            state.run = state.run.model_copy(update={"wake_at": later})
            return True


class MemoryWorkerRegistry:
    def __init__(self, data: _Data) -> None:
        self._d = data
        self._workers: dict[str, WorkerInfo] = {}

    def beat(self, worker: WorkerInfo) -> None:
        with self._d.lock:
            known = self._workers.get(worker.id)
            if known is not None:
                worker = known.model_copy(update={"heartbeat_at": worker.heartbeat_at})
            self._workers[worker.id] = worker.model_copy()

    def alive(self, *, within_s: float) -> builtins.list[WorkerInfo]:
        since = utcnow() - timedelta(seconds=within_s)
        with self._d.lock:
            found = [w.model_copy() for w in self._workers.values() if w.heartbeat_at >= since]
        return sorted(found, key=lambda w: w.started_at)

    def remove(self, worker_id: str) -> None:
        with self._d.lock:
            self._workers.pop(worker_id, None)


class MemoryDeliveryRepository:
    def __init__(self, data: _Data, events: MemoryEventLog) -> None:
        self._d = data
        self._events = events
        self._keys: dict[tuple[str, str, str], tuple[str, datetime]] = {}

    def create_run(
        self,
        run: Run,
        *,
        workflow_id: str,
        trigger_id: str,
        key: str,
        ttl_s: float,
        events: Sequence[Event] = (),
        on_stored: Callable[[list[Event]], None] | None = None,
    ) -> tuple[Run, bool]:
        from workspace.store.memory import _RunState

        now = utcnow()
        with self._d.lock:
            seen = self._keys.get((workflow_id, trigger_id, key))
            if seen is not None and seen[1] > now:
                return self._d.run_state(seen[0]).run.model_copy(deep=True), False
            stored = normalize_run(run)
            if stored.id in self._d.runs:
                raise ConflictError(f"a run with id {run.id!r} already exists", run_id=run.id)
            self._d.runs[stored.id] = _RunState(run=stored)
            if events:
                try:
                    self._events.record((), events, on_stored)
                except BaseException:
                    del self._d.runs[stored.id]
                    raise
            self._keys[(workflow_id, trigger_id, key)] = (stored.id, now + timedelta(seconds=ttl_s))
            return stored.model_copy(deep=True), True

    def purge(self) -> int:
        now = utcnow()
        with self._d.lock:
            expired = [k for k, (_, until) in self._keys.items() if until <= now]
            for k in expired:
                del self._keys[k]
            return len(expired)
