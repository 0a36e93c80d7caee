"""``EventLog`` on SQL: per-run, gap-free, monotonic ``seq``.

``append`` runs for every event of every run, so it executes pre-written SQL through
``Database.raw`` (one short transaction, two statements); reads use SQLAlchemy Core.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select

from workspace.domain.events import Event, EventType
from workspace.domain.run import StepRecord
from workspace.errors import NotFoundError
from workspace.store._codec import json_text, utc
from workspace.store.engine import Database, IntegrityViolation
from workspace.store.outbox import Deferred, Delivery, Outbox
from workspace.store.sql_runs import UPSERT_STEP, step_params
from workspace.store.tables import events, runs

__all__ = ["SqlEventLog"]

# The run row is the per-run counter. The UPDATE locks it until commit, so concurrent appenders
# to one run are serialised, and a rolled-back append gives its numbers back: seq stays gap-free.
_NEXT_SEQ = (
    f"UPDATE {runs.name} SET last_event_seq = last_event_seq + :n "
    "WHERE id = :run_id RETURNING last_event_seq"
)
_INSERT = (
    f"INSERT INTO {events.name} (run_id, seq, workflow, version, type, node_id, ts, data) "
    "VALUES (:run_id, :seq, :workflow, :version, :type, :node_id, :ts, :data)"
)
_FIELDS = ("seq", "run_id", "workflow", "version", "type", "node_id", "ts", "data")
_SELECT = (
    select(*(events.c[f] for f in _FIELDS))
    .where(events.c.run_id == bindparam("b_run"), events.c.seq > bindparam("b_after"))
    .order_by(events.c.seq)
    .limit(bindparam("b_limit"))
)


def deliver(delivered: Sequence[tuple[Delivery | None, builtins.list[Event]]]) -> None:
    for callback, stored in delivered:
        if callback is not None and stored:
            callback(stored)


class SqlEventLog:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._next_seq = db.sql(_NEXT_SEQ)
        self._insert = db.sql(_INSERT)
        self._upsert_step = db.sql(UPSERT_STEP)
        self.outbox = Outbox()

    def append(self, event: Event) -> Event:
        return self.append_many([event])[0]

    def append_many(self, batch: Sequence[Event]) -> builtins.list[Event]:
        """Append several events in one transaction (in order; they may belong to several runs).

        Cheaper than one ``append`` per event; all or none are stored.
        """
        return self.record((), batch)

    def record(
        self,
        steps: Sequence[StepRecord],
        batch: Sequence[Event],
        on_stored: Delivery | None = None,
    ) -> builtins.list[Event]:
        """Upsert ``steps`` and append ``batch`` in ONE transaction (after the deferred entries
        of the same runs, so the log keeps its order). ``on_stored`` gets the stored events after
        the commit while this process's write lock is still held (SQLite): deliveries follow
        ``seq`` order."""
        if not steps and not batch:
            return []
        run_ids = list(dict.fromkeys([s.run_id for s in steps] + [e.run_id for e in batch]))
        with self._db.write_lock:
            try:
                with self._db.raw(write=True) as cur:
                    delivered = self.write_deferred(cur, run_ids)
                    for step in steps:
                        cur.execute(self._upsert_step, step_params(self._db, step))
                    stored = self._append(cur, batch)
            except IntegrityViolation:
                run_id = steps[0].run_id if steps else batch[0].run_id
                raise NotFoundError(
                    f"run {run_id!r} not found; cannot record its step", run_id=run_id
                ) from None
            deliver([*delivered, (on_stored, stored)])
        return stored

    def defer(
        self,
        steps: Sequence[StepRecord],
        batch: Sequence[Event],
        on_stored: Delivery | None = None,
    ) -> None:
        """Store ``steps`` and ``batch`` with the run's next checkpoint write (see outbox.py);
        ``on_stored`` gets the stored events once they are committed."""
        run_id = steps[0].run_id if steps else batch[0].run_id
        self.outbox.add(run_id, Deferred(list(steps), list(batch), on_stored))

    def flush(self, run_id: str | None = None) -> None:
        """Write deferred entries now (of one run, or all)."""
        if not self.outbox:
            return
        with self._db.write_lock:
            with self._db.raw(write=True) as cur:
                delivered = self.write_deferred(cur, None if run_id is None else [run_id])
            deliver(delivered)

    def write_deferred(
        self, cur: Any, run_ids: Sequence[str] | None
    ) -> builtins.list[tuple[Delivery | None, builtins.list[Event]]]:
        """Inside the caller's transaction: write the deferred entries of ``run_ids``; returns
        what to deliver once it commits."""
        out: builtins.list[tuple[Delivery | None, builtins.list[Event]]] = []
        for item in self.outbox.take(run_ids):
            for step in item.steps:
                cur.execute(self._upsert_step, step_params(self._db, step))
            out.append((item.on_stored, self._append(cur, item.events)))
        return out

    def _append(self, cur: Any, batch: Sequence[Event]) -> builtins.list[Event]:
        if not batch:
            return []
        counts: dict[str, int] = {}
        for event in batch:
            counts[event.run_id] = counts.get(event.run_id, 0) + 1
        stored: builtins.list[Event] = []
        next_seq: dict[str, int] = {}
        for run_id, n in counts.items():
            cur.execute(self._next_seq, {"n": n, "run_id": run_id})
            row = cur.fetchone()
            if row is None:
                raise NotFoundError(
                    f"run {run_id!r} not found; cannot log its event", run_id=run_id
                )
            next_seq[run_id] = int(row[0]) - n + 1
        rows: builtins.list[dict[str, Any]] = []
        for event in batch:
            seq = next_seq[event.run_id]
            next_seq[event.run_id] = seq + 1
            ts = utc(event.ts)
            data = json_text(event.data, what="event data")
            stored.append(event.model_copy(update={"seq": seq, "ts": ts}))
            rows.append(
                {
                    "run_id": event.run_id,
                    "seq": seq,
                    "workflow": event.workflow,
                    "version": event.version,
                    "type": EventType(event.type).value,
                    "node_id": event.node_id,
                    "ts": self._db.time_param(ts),
                    "data": data,
                }
            )
        if len(rows) == 1:
            cur.execute(self._insert, rows[0])
        else:
            cur.executemany(self._insert, rows)
        return stored

    def list(self, run_id: str, *, after: int = 0, limit: int = 1000) -> builtins.list[Event]:
        params = {"b_run": run_id, "b_after": after, "b_limit": max(0, limit)}
        with self._db.read() as conn:
            return [
                Event(
                    seq=row.seq,
                    run_id=row.run_id,
                    workflow=row.workflow,
                    version=row.version,
                    type=EventType(row.type),
                    node_id=row.node_id,
                    ts=row.ts,
                    data=row.data or {},
                )
                for row in conn.execute(_SELECT, params)
            ]
