"""``EventLog`` on SQL: per-run, gap-free, monotonic ``seq``.

``append`` runs for every event of every run, so it executes pre-written SQL through
``Database.raw`` (one short transaction, two statements); reads use SQLAlchemy Core.

Run status changes are written with their events here too (the status change itself is
``sql_transitions.transition_run``): ``record_transition`` stores a run's terminal status and
its final event in ONE transaction, and ``record_created`` a new run with its ``run_queued``
event.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select

from workspace.domain.copies import replaced
from workspace.domain.events import Event, EventType
from workspace.domain.run import (
    Run,
    RunStatus,
    StepRecord,
    StepStatus,
)
from workspace.errors import ConflictError, NotFoundError
from workspace.store._codec import json_text, normalize_run, utc
from workspace.store.engine import Database, IntegrityViolation
from workspace.store.outbox import Deferred, Delivery, Outbox
from workspace.store.sql_runs import UPSERT_STEP
from workspace.store.sql_transitions import (
    RUN_COLUMNS,
    RUN_FIELDS,
    RUN_JSON,
    RUN_TIMES,
    transition_run,
)
from workspace.store.tables import events, runs

__all__ = ["SqlEventLog"]

# PostgreSQL: the run row is the per-run counter. The UPDATE locks it until commit, so
# concurrent appenders to one run are serialised, and a rolled-back append gives its numbers
# back: seq stays gap-free.
_NEXT_SEQ = (
    f"UPDATE {runs.name} SET last_event_seq = last_event_seq + :n "
    "WHERE id = :run_id RETURNING last_event_seq"
)
# SQLite: every write transaction holds the database's single write lock from its first
# statement (BEGIN IMMEDIATE), so the highest stored seq (one seek in the primary key) is the
# counter; the run row is not rewritten on every append (a WAL page less per node). No row: no
# such run.
_NEXT_SEQ_SQLITE = (
    f"SELECT (SELECT COALESCE(MAX(seq), 0) FROM {events.name} WHERE run_id = :run_id) + :n "
    f"FROM {runs.name} WHERE id = :run_id"
)
_INSERT_HEAD = (
    f"INSERT INTO {events.name} (run_id, seq, workflow, version, type, node_id, ts, data)"
)
_ROW = "(:run_id{i}, :seq{i}, :workflow{i}, :version{i}, :type{i}, :node_id{i}, :ts{i}, :data{i})"
#: events per INSERT statement (8 parameters each: far below SQLite's and PostgreSQL's limits)
_INSERT_CHUNK = 64
#: an event type's text by member (a dict lookup: ``Enum.value`` is slow on the hot path)
_EVENT_TYPES: dict[Any, str] = {t: t.value for t in EventType}
_STEP_STATUSES: dict[Any, str] = {s: s.value for s in StepStatus}
_STEP_JSON = frozenset({"input", "output", "error"})
_STEP_TIMES = frozenset({"started_at", "finished_at"})
_FIELDS = ("seq", "run_id", "workflow", "version", "type", "node_id", "ts", "data")
_SELECT = (
    select(*(events.c[f] for f in _FIELDS))
    .where(events.c.run_id == bindparam("b_run"), events.c.seq > bindparam("b_after"))
    .order_by(events.c.seq)
    .limit(bindparam("b_limit"))
)


class NewRun(NamedTuple):
    """A run and its first events, prepared for ``SqlEventLog.create_in``."""

    run: Run
    params: dict[str, Any]
    rows: builtins.list[_EventRow]
    own: bool


class _EventRow(NamedTuple):
    event: Event
    ts: datetime  # in UTC
    values: dict[str, Any]  # the INSERT's values but seq


def _json(value: Any, what: str) -> str | None:
    """``json_text``, with plain JSON values (the usual case) serialised in one pass."""
    if value is None:
        return None
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return json_text(value, what=what)  # converts (or refuses) what plain JSON cannot


def _step_params(db: Database, step: StepRecord) -> dict[str, Any]:
    """``step_params`` (the parameters of ``UPSERT_STEP``) on the hot path."""
    values: dict[str, Any] = {}
    for name, value in step.__dict__.items():
        if name in _STEP_JSON:
            value = _json(value, f"step {name}")
        elif name in _STEP_TIMES:
            value = db.time_param(value)
        elif name == "status":
            value = _STEP_STATUSES.get(value) or StepStatus(value).value
        values[name] = value
    return values


_INSERT_RUN = (
    f"INSERT INTO {runs.name} ({RUN_COLUMNS}, last_event_seq) "
    f"VALUES ({', '.join(':' + f for f in RUN_FIELDS)}, :last_event_seq)"
)


def deliver(delivered: Sequence[tuple[Delivery | None, builtins.list[Event]]]) -> None:
    for callback, stored in delivered:
        if callback is not None and stored:
            callback(stored)


class SqlEventLog:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._next_seq = _NEXT_SEQ_SQLITE if db.dialect == "sqlite" else db.sql(_NEXT_SEQ)
        self._insert_cache: dict[int, str] = {}
        self._insert_run = db.sql(_INSERT_RUN)
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
                    self._upsert_steps(cur, steps)
                    stored = self._append(cur, batch)
            except IntegrityViolation:
                run_id = steps[0].run_id if steps else batch[0].run_id
                raise NotFoundError(
                    f"run {run_id!r} not found; cannot record its step", run_id=run_id
                ) from None
            deliver([*delivered, (on_stored, stored)])
        return stored

    def record_transition(
        self,
        run_id: str,
        target: RunStatus,
        fields: dict[str, Any],
        steps: Sequence[StepRecord] = (),
        batch: Sequence[Event] = (),
        on_stored: Delivery | None = None,
        *,
        created: Sequence[Run] = (),
    ) -> tuple[Run, builtins.list[Event]]:
        """Move the run to ``target`` (as ``RunRepository.transition``) and, in the SAME
        transaction, insert the ``created`` runs, upsert ``steps`` and append ``batch`` after
        the run's deferred entries. A refused transition raises and stores nothing."""
        run_ids = list(
            dict.fromkeys([run_id, *(s.run_id for s in steps), *(e.run_id for e in batch)])
        )
        new_rows = [self._run_params(r) for r in created]
        with self._db.write_lock:
            try:
                with self._db.raw(write=True) as cur:
                    run = transition_run(self._db, cur, run_id, target, fields)
                    for row in new_rows:
                        cur.execute(self._insert_run, row)
                    delivered = self.write_deferred(cur, run_ids)
                    self._upsert_steps(cur, steps)
                    stored = self._append(cur, batch)
            except IntegrityViolation:
                if created:
                    raise ConflictError(
                        f"a run created with run {run_id!r}'s transition exists already "
                        "(or a step's run is missing); nothing was stored",
                        run_id=run_id,
                    ) from None
                raise NotFoundError(
                    f"run {run_id!r} not found; cannot record its step", run_id=run_id
                ) from None
            deliver([*delivered, (on_stored, stored)])
        return run, stored

    def record_created(
        self, run: Run, batch: Sequence[Event], on_stored: Delivery | None = None
    ) -> tuple[Run, builtins.list[Event]]:
        """Insert ``run`` (as ``RunRepository.create``) and append ``batch`` (its events, e.g.
        ``run_queued``) in ONE transaction."""
        new = self.prepare_created(run, batch)
        with self._db.write_lock:
            try:
                with self._db.raw(write=True) as cur:
                    stored_run, stored = self.create_in(cur, new)
            except IntegrityViolation:
                raise ConflictError(
                    f"a run with id {run.id!r} already exists", run_id=run.id
                ) from None
            deliver([(on_stored, stored)])
        return stored_run, stored

    def prepare_created(self, run: Run, batch: Sequence[Event]) -> NewRun:
        """What ``create_in`` writes for ``run`` and its first events, serialised before the
        write lock is taken. A new run's own events get ``seq`` 1..n right away (no counter to
        bump in the transaction)."""
        stored_run = normalize_run(run)
        params = self._run_params(stored_run)
        rows = [self._event_row(event) for event in batch]
        own = all(row.event.run_id == stored_run.id for row in rows)
        if own:
            params["last_event_seq"] = len(rows)
        return NewRun(stored_run, params, rows, own)

    def create_in(self, cur: Any, new: NewRun) -> tuple[Run, builtins.list[Event]]:
        """Inside the caller's write transaction (a DBAPI cursor, the write lock held): insert
        the run and its first events (``prepare_created``); returns the stored run and events,
        which the caller delivers once it commits."""
        cur.execute(self._insert_run, new.params)
        if new.own:
            return new.run, self._write_rows(cur, new.rows, {new.run.id: 1})
        return new.run, self._append_rows(cur, new.rows)

    def _run_params(self, run: Run) -> dict[str, Any]:
        """The parameters of ``_INSERT_RUN`` for ``run`` (normalised first)."""
        stored = normalize_run(run)
        params = {
            name: value.value if isinstance(value, Enum) else value
            for name, value in stored.__dict__.items()
        }
        for name in RUN_JSON:
            params[name] = self._db.json_param(params[name])
        for name in RUN_TIMES:
            params[name] = self._db.time_param(params[name])
        params["last_event_seq"] = 0
        return params

    def defer(
        self,
        steps: Sequence[StepRecord],
        batch: Sequence[Event],
        on_stored: Delivery | None = None,
    ) -> None:
        """Store ``steps`` and ``batch`` with the run's next checkpoint write (see outbox.py);
        ``on_stored`` gets the stored events once they are committed."""
        run_id = steps[0].run_id if steps else batch[0].run_id
        # serialised now, in the caller's thread: the checkpoint transaction that writes them
        # (under the store's write lock) then only binds prepared values
        prepared = (
            [_step_params(self._db, step) for step in steps],
            [self._event_row(event) for event in batch],
        )
        self.outbox.add(run_id, Deferred(list(steps), list(batch), on_stored, prepared))

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
        items = self.outbox.take(run_ids)
        if not items:
            return []
        step_rows: builtins.list[dict[str, Any]] = []
        event_rows: builtins.list[_EventRow] = []
        for item in items:
            if item.prepared is None:
                step_rows.extend(_step_params(self._db, s) for s in item.steps)
                event_rows.extend(self._event_row(e) for e in item.events)
            else:
                step_rows.extend(item.prepared[0])
                event_rows.extend(item.prepared[1])
        # several entries (parallel branches): one seq update and one INSERT for all of them
        for row in step_rows:
            cur.execute(self._upsert_step, row)
        stored = self._append_rows(cur, event_rows)
        if len(items) == 1:
            return [(items[0].on_stored, stored)]
        out: builtins.list[tuple[Delivery | None, builtins.list[Event]]] = []
        start = 0
        for item in items:
            end = start + len(item.events)
            out.append((item.on_stored, stored[start:end]))
            start = end
        return out

    def _upsert_steps(self, cur: Any, steps: Sequence[StepRecord]) -> None:
        db = self._db
        for step in steps:
            cur.execute(self._upsert_step, _step_params(db, step))

    def append_in(self, cur: Any, batch: Sequence[Event]) -> builtins.list[Event]:
        """Inside the caller's write transaction (a DBAPI cursor, the write lock held): append
        the first events of a run created in that transaction (it has nothing deferred);
        returns the stored events, which the caller delivers once it commits."""
        return self._append(cur, batch)

    def _append(self, cur: Any, batch: Sequence[Event]) -> builtins.list[Event]:
        return self._append_rows(cur, [self._event_row(event) for event in batch])

    def _event_row(self, event: Event) -> _EventRow:
        """An event's INSERT values but its ``seq`` (known only inside the transaction)."""
        fields = event.__dict__
        ts = event.ts if event.ts.tzinfo is UTC else utc(event.ts)
        return _EventRow(
            event,
            ts,
            {
                "run_id": event.run_id,
                "workflow": fields["workflow"],
                "version": fields["version"],
                "type": _EVENT_TYPES.get(fields["type"]) or EventType(fields["type"]).value,
                "node_id": fields["node_id"],
                "ts": self._db.time_param(ts),
                "data": _json(fields["data"], "event data"),
            },
        )

    def _append_rows(self, cur: Any, rows: Sequence[_EventRow]) -> builtins.list[Event]:
        if not rows:
            return []
        counts: dict[str, int] = {}
        for row in rows:
            run_id = row.event.run_id
            counts[run_id] = counts.get(run_id, 0) + 1
        next_seq: dict[str, int] = {}
        for run_id, n in counts.items():
            cur.execute(self._next_seq, {"n": n, "run_id": run_id})
            found = cur.fetchone()
            if found is None:
                raise NotFoundError(
                    f"run {run_id!r} not found; cannot log its event", run_id=run_id
                )
            next_seq[run_id] = int(found[0]) - n + 1
        return self._write_rows(cur, rows, next_seq)

    def _write_rows(
        self, cur: Any, rows: Sequence[_EventRow], next_seq: dict[str, int]
    ) -> builtins.list[Event]:
        """INSERT ``rows``, numbering each run's from ``next_seq[run_id]`` on."""
        stored: builtins.list[Event] = []
        for start in range(0, len(rows), _INSERT_CHUNK):
            chunk = rows[start : start + _INSERT_CHUNK]
            params: dict[str, Any] = {}
            for i, row in enumerate(chunk):
                run_id = row.event.run_id
                seq = next_seq[run_id]
                next_seq[run_id] = seq + 1
                stored.append(replaced(row.event, {"seq": seq, "ts": row.ts}))
                params[f"seq{i}"] = seq
                for name, value in row.values.items():
                    params[f"{name}{i}"] = value
            cur.execute(self._insert_rows(len(chunk)), params)
        return stored

    def _insert_rows(self, n: int) -> str:
        """The INSERT of ``n`` events in one statement (prepared once per size)."""
        query = self._insert_cache.get(n)
        if query is None:
            values = ", ".join(_ROW.format(i=i) for i in range(n))
            query = self._insert_cache[n] = self._db.sql(f"{_INSERT_HEAD} VALUES {values}")
        return query

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
