"""``DeliveryRepository`` on SQL: a webhook's run, its dedupe key and its ``run_queued`` event
are stored in one transaction, so a 202 is only ever answered for a stored run.

``create_run`` runs for every webhook, so it executes pre-written SQL through ``Database.raw``;
``deliver_in`` (the scheduler's slots) and ``purge`` use SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import ColumnElement, Connection, delete, insert, select

from workspace.domain.events import Event
from workspace.domain.run import Run
from workspace.domain.workflow import utcnow
from workspace.store._codec import time_result
from workspace.store.engine import Database, IntegrityViolation
from workspace.store.outbox import Delivery
from workspace.store.sql_events import SqlEventLog, deliver
from workspace.store.sql_runs import SqlRunRepository, run_row
from workspace.store.tables import deliveries, runs

__all__ = ["SqlDeliveryRepository", "deliver_in"]

_ATTEMPTS = 5
_KEY = "workflow_id = :workflow_id AND trigger_id = :trigger_id AND key = :key"
_FIND = f"SELECT run_id, expires_at FROM {deliveries.name} WHERE {_KEY}"
_FORGET = f"DELETE FROM {deliveries.name} WHERE {_KEY}"
_REMEMBER = (
    f"INSERT INTO {deliveries.name} (workflow_id, trigger_id, key, run_id, expires_at) "
    "VALUES (:workflow_id, :trigger_id, :key, :run_id, :expires_at)"
)


def _where(workflow_id: str, trigger_id: str, key: str) -> tuple[ColumnElement[bool], ...]:
    return (
        deliveries.c.workflow_id == workflow_id,
        deliveries.c.trigger_id == trigger_id,
        deliveries.c.key == key,
    )


def deliver_in(
    conn: Connection, run: Run, *, workflow_id: str, trigger_id: str, key: str, ttl_s: float
) -> tuple[Run | None, str | None]:
    """Inside an open write transaction: store ``run`` with its delivery ``key`` unless the key
    was delivered within its TTL. Returns ``(stored run, None)`` or ``(None, id of the run the
    key was first delivered with)``. A concurrent insert of the same key raises
    ``IntegrityViolation`` (the transaction is then void)."""
    where = _where(workflow_id, trigger_id, key)
    now = utcnow()
    row = conn.execute(select(deliveries.c.run_id, deliveries.c.expires_at).where(*where)).first()
    if row is not None and row[1] > now:
        return None, str(row[0])
    if row is not None:
        conn.execute(delete(deliveries).where(*where))
    stored, values = run_row(run)
    conn.execute(insert(runs), [values])
    conn.execute(
        insert(deliveries),
        [
            {
                "workflow_id": workflow_id,
                "trigger_id": trigger_id,
                "key": key,
                "run_id": run.id,
                "expires_at": now + timedelta(seconds=ttl_s),
            }
        ],
    )
    return stored, None


class SqlDeliveryRepository:
    def __init__(self, db: Database, runs_: SqlRunRepository, events: SqlEventLog) -> None:
        self._db = db
        self._runs = runs_
        self._events = events
        self._find = db.sql(_FIND)
        self._forget = db.sql(_FORGET)
        self._remember = db.sql(_REMEMBER)

    def create_run(
        self,
        run: Run,
        *,
        workflow_id: str,
        trigger_id: str,
        key: str,
        ttl_s: float,
        events: Sequence[Event] = (),
        on_stored: Delivery | None = None,
    ) -> tuple[Run, bool]:
        # runs for every webhook: pre-written SQL through Database.raw, like the event log
        db = self._db
        ids = {"workflow_id": workflow_id, "trigger_id": trigger_id, "key": key}
        new = self._events.prepare_created(run, events)  # serialised before the lock
        for _ in range(_ATTEMPTS):
            try:
                # the write lock spans the commit and the delivery: subscribers get events in
                # ``seq`` order (as EventLog.record)
                with db.write_lock:
                    logged: list[Event] = []
                    stored: Run | None = None
                    with db.raw(write=True) as cur:
                        cur.execute(self._find, ids)
                        row = cur.fetchone()
                        now = utcnow()
                        expires = None if row is None else time_result(row[1])
                        if expires is not None and expires > now:
                            existing = str(row[0])
                        else:
                            if row is not None:  # delivered before, but its TTL is over
                                cur.execute(self._forget, ids)
                            stored, logged = self._events.create_in(cur, new)
                            expires_at = db.time_param(now + timedelta(seconds=ttl_s))
                            cur.execute(
                                self._remember, {**ids, "run_id": run.id, "expires_at": expires_at}
                            )
                    deliver([(on_stored, logged)])
            except IntegrityViolation:
                continue  # a concurrent delivery of the same key won: read its run
            if stored is not None:
                return stored, True
            return self._runs.get(existing), False
        where = _where(workflow_id, trigger_id, key)
        with db.read() as conn:
            existing = conn.execute(select(deliveries.c.run_id).where(*where)).scalar_one()
        return self._runs.get(existing), False

    def purge(self) -> int:
        with self._db.write() as conn:
            return int(
                conn.execute(delete(deliveries).where(deliveries.c.expires_at <= utcnow())).rowcount
            )
