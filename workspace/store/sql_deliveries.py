"""``DeliveryRepository`` on SQLAlchemy Core: a webhook's run, its dedupe key and its
``run_queued`` event are stored in one transaction, so a 202 is only ever answered for a stored
run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import ColumnElement, Connection, delete, insert, select

from workspace.domain.events import Event
from workspace.domain.run import Run
from workspace.domain.workflow import utcnow
from workspace.store.engine import Database, IntegrityViolation
from workspace.store.outbox import Delivery
from workspace.store.sql_events import SqlEventLog, deliver
from workspace.store.sql_runs import SqlRunRepository, run_row
from workspace.store.tables import deliveries, runs

__all__ = ["SqlDeliveryRepository", "deliver_in"]

_ATTEMPTS = 5


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
        for _ in range(_ATTEMPTS):
            try:
                # the write lock spans the commit and the delivery: subscribers get events in
                # ``seq`` order (as EventLog.record)
                with self._db.write_lock:
                    logged: list[Event] = []
                    with self._db.write() as conn:
                        stored, existing = deliver_in(
                            conn,
                            run,
                            workflow_id=workflow_id,
                            trigger_id=trigger_id,
                            key=key,
                            ttl_s=ttl_s,
                        )
                        if stored is not None and events:
                            # the same DBAPI connection, inside the same transaction
                            cur = conn.connection.cursor()
                            try:
                                logged = self._events.append_in(cur, events)
                            finally:
                                cur.close()
                    deliver([(on_stored, logged)])
            except IntegrityViolation:
                continue  # a concurrent delivery of the same key won: read its run
            if stored is not None:
                return stored, True
            assert existing is not None
            return self._runs.get(existing), False
        where = _where(workflow_id, trigger_id, key)
        with self._db.read() as conn:
            existing = conn.execute(select(deliveries.c.run_id).where(*where)).scalar_one()
        return self._runs.get(existing), False

    def purge(self) -> int:
        with self._db.write() as conn:
            return int(
                conn.execute(delete(deliveries).where(deliveries.c.expires_at <= utcnow())).rowcount
            )
