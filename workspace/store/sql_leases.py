"""``LeaseRepository`` and ``WorkerRegistry`` on SQLAlchemy Core (columns of ``runs``, table
``workers``). Every hand-over is a compare-and-set, so racing sweepers never double-enqueue."""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, not_, or_, select, update

from workspace.domain.operations import QUEUE_OWNER, Lease, WorkerInfo
from workspace.domain.run import TERMINAL_RUN_STATUSES, Run, RunStatus
from workspace.domain.workflow import utcnow
from workspace.errors import InvalidTransition, NotFoundError
from workspace.store.engine import AnyRow, Database, dialect_insert
from workspace.store.sql_transitions import transition_run
from workspace.store.tables import runs, workers

__all__ = ["SqlLeaseRepository", "SqlWorkerRegistry"]

_LEASE = select(runs.c.id, runs.c.lease_owner, runs.c.lease_until, runs.c.wake_at)
_FINAL = [s.value for s in TERMINAL_RUN_STATUSES]
_DRIVEN = [RunStatus.QUEUED.value, RunStatus.RUNNING.value]


def _lease(row: AnyRow) -> Lease:
    return Lease(run_id=row[0], owner=row[1], until=row[2], wake_at=row[3])


def _same(column: ColumnElement[datetime | None], value: datetime | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


_CLAIM = (
    "UPDATE runs SET lease_owner = :owner, lease_until = :until "
    f"WHERE id = :id AND status NOT IN ({', '.join(repr(s) for s in _FINAL)}) "
    "AND (lease_owner IS NULL OR lease_owner IN (:queue, :owner) "
    "OR lease_until IS NULL OR lease_until < :now)"
)
_RELEASE = (
    "UPDATE runs SET lease_owner = NULL, lease_until = NULL WHERE id = :id AND lease_owner = :owner"
)


class SqlLeaseRepository:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._claim, self._release = db.sql(_CLAIM), db.sql(_RELEASE)

    def claim(self, run_id: str, owner: str, ttl_s: float) -> bool:
        # once per run a worker drives: pre-written SQL (a third of the lock time of Core)
        now = utcnow()
        params = {
            "id": run_id,
            "owner": owner,
            "queue": QUEUE_OWNER,
            "now": self._db.time_param(now),
            "until": self._db.time_param(now + timedelta(seconds=ttl_s)),
        }
        with self._db.raw(write=True) as cur:
            cur.execute(self._claim, params)
            return bool(cur.rowcount == 1)

    def start(self, run_id: str, owner: str, ttl_s: float) -> Run | None:
        now = utcnow()
        lease = (owner, now + timedelta(seconds=ttl_s))
        with self._db.raw(write=True) as cur:
            try:
                return transition_run(
                    self._db,
                    cur,
                    run_id,
                    RunStatus.RUNNING,
                    {"started_at": now},
                    source=RunStatus.QUEUED,
                    lease=lease,
                )
            except InvalidTransition:  # no statement failed: the (empty) transaction commits
                return None

    def heartbeat(self, owner: str, ttl_s: float) -> int:
        stmt = (
            update(runs)
            .where(runs.c.lease_owner == owner)
            .values(lease_until=utcnow() + timedelta(seconds=ttl_s))
        )
        with self._db.write() as conn:
            return int(conn.execute(stmt).rowcount)

    def release(self, run_id: str, owner: str) -> None:
        with self._db.raw(write=True) as cur:
            cur.execute(self._release, {"id": run_id, "owner": owner})

    def get(self, run_id: str) -> Lease:
        with self._db.read() as conn:
            row = conn.execute(_LEASE.where(runs.c.id == run_id)).first()
        if row is None:
            raise NotFoundError(f"run {run_id!r} not found", run_id=run_id)
        return _lease(row)

    def expire(self, owner_prefix: str) -> int:
        if not owner_prefix:
            return 0
        pattern = owner_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = (
            update(runs)
            .where(runs.c.lease_owner.like(pattern, escape="\\"))
            .values(lease_until=utcnow())
        )
        with self._db.write() as conn:
            return int(conn.execute(stmt).rowcount)

    def stale(
        self, *, grace_s: float, limit: int = 100, queued: bool = True
    ) -> builtins.list[Lease]:
        now = utcnow()
        found = or_(
            runs.c.lease_until < now,
            and_(
                runs.c.status == RunStatus.QUEUED.value,
                runs.c.lease_until.is_(None),
                runs.c.created_at < now - timedelta(seconds=grace_s),
            ),
        )
        if not queued:  # leave out queued runs waiting for a task (none, or the queue's lease)
            waiting = and_(
                runs.c.status == RunStatus.QUEUED.value,
                or_(runs.c.lease_owner.is_(None), runs.c.lease_owner == QUEUE_OWNER),
            )
            found = and_(found, not_(waiting))
        query = (
            _LEASE.where(runs.c.status.in_(_DRIVEN), found).order_by(runs.c.created_at).limit(limit)
        )
        with self._db.read() as conn:
            return [_lease(r) for r in conn.execute(query)]

    def requeue(self, lease: Lease, ttl_s: float) -> bool:
        stmt = (
            update(runs)
            .where(
                runs.c.id == lease.run_id,
                runs.c.status.not_in(_FINAL),
                _same(runs.c.lease_until, lease.until),
            )
            .values(lease_owner=QUEUE_OWNER, lease_until=utcnow() + timedelta(seconds=ttl_s))
        )
        with self._db.write() as conn:
            return conn.execute(stmt).rowcount == 1

    def set_wake(self, run_id: str, at: datetime | None) -> None:
        with self._db.write() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(wake_at=at))

    def due(self, *, limit: int = 100) -> builtins.list[Lease]:
        query = (
            _LEASE.where(runs.c.status == RunStatus.WAITING.value, runs.c.wake_at <= utcnow())
            .order_by(runs.c.wake_at)
            .limit(limit)
        )
        with self._db.read() as conn:
            return [_lease(r) for r in conn.execute(query)]

    def take_wake(self, lease: Lease, *, retry_after_s: float | None = None) -> bool:
        if lease.wake_at is None:
            return False
        later = None if retry_after_s is None else utcnow() + timedelta(seconds=retry_after_s)
        stmt = (
            update(runs)
            .where(runs.c.id == lease.run_id, runs.c.wake_at == lease.wake_at)
            .values(wake_at=later)
        )
        with self._db.write() as conn:
            return conn.execute(stmt).rowcount == 1


_WORKER_FIELDS = tuple(WorkerInfo.model_fields)


class SqlWorkerRegistry:
    def __init__(self, db: Database) -> None:
        self._db = db

    def beat(self, worker: WorkerInfo) -> None:
        stmt = dialect_insert(self._db.dialect, workers).values(**worker.model_dump())
        stmt = stmt.on_conflict_do_update(
            index_elements=[workers.c.id], set_={"heartbeat_at": stmt.excluded.heartbeat_at}
        )
        with self._db.write() as conn:
            conn.execute(stmt)

    def alive(self, *, within_s: float) -> builtins.list[WorkerInfo]:
        since = utcnow() - timedelta(seconds=within_s)
        query = (
            select(*(workers.c[f] for f in _WORKER_FIELDS))
            .where(workers.c.heartbeat_at >= since)
            .order_by(workers.c.started_at)
        )
        with self._db.read() as conn:
            return [
                WorkerInfo.model_validate(dict(zip(_WORKER_FIELDS, r, strict=True)))
                for r in conn.execute(query)
            ]

    def remove(self, worker_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(delete(workers).where(workers.c.id == worker_id))
