"""``DeliveryRepository`` on SQLAlchemy Core: a webhook's run and its dedupe key are stored in
one transaction, so a 202 is only ever answered for a stored run."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, insert, select

from workspace.domain.run import Run
from workspace.domain.workflow import utcnow
from workspace.store.engine import Database, IntegrityViolation
from workspace.store.sql_runs import SqlRunRepository, run_row
from workspace.store.tables import deliveries, runs

__all__ = ["SqlDeliveryRepository"]

_ATTEMPTS = 5


class SqlDeliveryRepository:
    def __init__(self, db: Database, runs_: SqlRunRepository) -> None:
        self._db = db
        self._runs = runs_

    def create_run(
        self, run: Run, *, workflow_id: str, trigger_id: str, key: str, ttl_s: float
    ) -> tuple[Run, bool]:
        where = (
            deliveries.c.workflow_id == workflow_id,
            deliveries.c.trigger_id == trigger_id,
            deliveries.c.key == key,
        )
        for _ in range(_ATTEMPTS):
            now = utcnow()
            try:
                with self._db.write() as conn:
                    row = conn.execute(
                        select(deliveries.c.run_id, deliveries.c.expires_at).where(*where)
                    ).first()
                    if row is not None and row[1] > now:
                        existing = row[0]
                    else:
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
                        return stored, True
            except IntegrityViolation:
                continue  # a concurrent delivery of the same key won: read its run
            return self._runs.get(existing), False
        with self._db.read() as conn:
            existing = conn.execute(select(deliveries.c.run_id).where(*where)).scalar_one()
        return self._runs.get(existing), False

    def purge(self) -> int:
        with self._db.write() as conn:
            return int(
                conn.execute(delete(deliveries).where(deliveries.c.expires_at <= utcnow())).rowcount
            )
