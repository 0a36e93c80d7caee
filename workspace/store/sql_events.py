"""``EventLog`` on SQL: per-run, gap-free, monotonic ``seq``.

``append`` runs for every event of every run, so it executes pre-written SQL through
``Database.raw`` (one short transaction, two statements); reads use SQLAlchemy Core.

Run status changes are written here too (:func:`transition_run`, used by
``SqlRunRepository.transition``): ``record_transition`` stores a run's terminal status and its
final event in ONE transaction, and ``record_created`` a new run with its ``run_queued`` event.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any, NamedTuple

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import bindparam, select

from workspace.domain.copies import replaced
from workspace.domain.events import Event, EventType
from workspace.domain.run import (
    Run,
    RunStatus,
    StepRecord,
    StepStatus,
    allowed_transitions,
    check_transition,
)
from workspace.domain.workflow import utcnow
from workspace.errors import ConflictError, NotFoundError, ValidationError
from workspace.store._codec import RUN_SETTABLE_FIELDS, json_text, normalize_run, time_result, utc
from workspace.store.engine import Database, IntegrityViolation
from workspace.store.outbox import Deferred, Delivery, Outbox
from workspace.store.sql_runs import UPSERT_STEP
from workspace.store.tables import events, runs

__all__ = ["SqlEventLog", "transition_run"]

# The run row is the per-run counter. The UPDATE locks it until commit, so concurrent appenders
# to one run are serialised, and a rolled-back append gives its numbers back: seq stays gap-free.
_NEXT_SEQ = (
    f"UPDATE {runs.name} SET last_event_seq = last_event_seq + :n "
    "WHERE id = :run_id RETURNING last_event_seq"
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


# --- run status changes ---------------------------------------------------------------------

_RUN_FIELDS = tuple(Run.model_fields)
_RUN_JSON = frozenset({"input", "output", "error", "pending"})
_RUN_TIMES = frozenset({"created_at", "started_at", "finished_at", "wake_at"})
#: column names quoted: ``user`` is a reserved word on PostgreSQL
_RUN_COLUMNS = ", ".join(f'"{f}"' for f in _RUN_FIELDS)
_INSERT_RUN = (
    f"INSERT INTO {runs.name} ({_RUN_COLUMNS}, last_event_seq) "
    f"VALUES ({', '.join(':' + f for f in _RUN_FIELDS)}, :last_event_seq)"
)
_RUN_STATUS = f"SELECT status FROM {runs.name} WHERE id = :b_id"
#: required run fields, so a partial ``Run`` validates just the fields a transition sets
_TEMPLATE: dict[str, Any] = {
    "workflow_id": "-",
    "workflow_slug": "-",
    "version_number": 0,
    "version_hash": "-",
    "trigger_id": "-",
}
#: the statuses each status may be reached from (the state machine, as SQL parameters)
_SOURCES = {
    target: tuple(sorted(s.value for s in RunStatus if target in allowed_transitions(s)))
    for target in RunStatus
}
#: how often ``transition_run`` re-reads after losing a race (PostgreSQL, READ COMMITTED)
_CAS_ATTEMPTS = 20
_TRANSITIONS: dict[tuple[str, RunStatus, tuple[str, ...]], str] = {}


def _run_values(db: Database, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` validated as ``Run`` fields, as column values (the rules of ``run_changes``)."""
    unknown = sorted(set(fields) - RUN_SETTABLE_FIELDS)
    if "status" in fields:
        raise ValidationError("change a run's status with transition(), not update()")
    if unknown:
        raise ValidationError(f"runs have no settable field(s) {', '.join(unknown)}")
    if not fields:
        return {}
    try:
        checked = Run.model_validate({**_TEMPLATE, **fields})
    except PydanticValidationError as exc:
        raise ValidationError(f"invalid run field value: {exc}") from None
    values: dict[str, Any] = {}
    for name in fields:
        value = getattr(checked, name)
        if name in _RUN_JSON:
            value = json_text(value, what=f"run {name}")
        elif name in _RUN_TIMES:
            value = db.time_param(value)
        elif isinstance(value, Enum):
            value = value.value
        values[name] = value
    return values


def _transition_sql(db: Database, target: RunStatus, names: tuple[str, ...]) -> str:
    key = (db.dialect, target, names)
    query = _TRANSITIONS.get(key)
    if query is None:
        sets = ['"status" = :status', *(f'"{n}" = :{n}' for n in names)]
        # the timestamps a status implies, unless given or already set (as ``run_changes``)
        if target == RunStatus.RUNNING and "started_at" not in names:
            sets.append("started_at = COALESCE(started_at, :now)")
        if target.terminal and "finished_at" not in names:
            sets.append("finished_at = COALESCE(finished_at, :now)")
        sources = ", ".join(f":src{i}" for i in range(len(_SOURCES[target])))
        query = db.sql(
            f"UPDATE {runs.name} SET {', '.join(sets)} "
            f'WHERE id = :b_id AND "status" IN ({sources}) RETURNING {_RUN_COLUMNS}'
        )
        if len(_TRANSITIONS) < 1024:
            _TRANSITIONS[key] = query
    return query


def _run_from_row(db: Database, row: Sequence[Any]) -> Run:
    values = dict(zip(_RUN_FIELDS, row, strict=True))
    for name in _RUN_JSON:
        values[name] = db.json_result(values[name])
    for name in _RUN_TIMES:
        values[name] = time_result(values[name])
    return Run.model_validate(values)


def transition_run(
    db: Database, cur: Any, run_id: str, target: RunStatus, fields: dict[str, Any]
) -> Run:
    """Inside the caller's write transaction: move the run to ``target`` through the state
    machine and set ``fields`` (``RunRepository.transition``'s contract).

    One statement: an UPDATE guarded by the statuses ``target`` may be reached from, returning
    the changed row (compare-and-set; nothing is read first). Only when it changes nothing is
    the status read, to say why (not found, or the transition is refused).
    """
    target = RunStatus(target)
    if not _SOURCES[target]:
        raise ConflictError(f"no run status can become {target.value}", run_id=run_id)
    params = _run_values(db, fields)
    params.update(status=target.value, b_id=run_id, now=db.time_param(utcnow()))
    params.update((f"src{i}", s) for i, s in enumerate(_SOURCES[target]))
    query = _transition_sql(db, target, tuple(sorted(fields)))
    status_query = db.sql(_RUN_STATUS)
    for _ in range(_CAS_ATTEMPTS):
        cur.execute(query, params)
        row = cur.fetchone()
        if row is not None:
            return _run_from_row(db, row)
        cur.execute(status_query, {"b_id": run_id})
        found = cur.fetchone()
        if found is None:
            raise NotFoundError(f"run {run_id!r} not found", run_id=run_id)
        check_transition(RunStatus(found[0]), target)  # refused: InvalidTransition
        # allowed now: the status changed after our UPDATE looked (PostgreSQL); try again
    raise ConflictError(
        f"run {run_id!r} kept changing concurrently; transition to {target.value} not applied",
        run_id=run_id,
    )


def deliver(delivered: Sequence[tuple[Delivery | None, builtins.list[Event]]]) -> None:
    for callback, stored in delivered:
        if callback is not None and stored:
            callback(stored)


class SqlEventLog:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._next_seq = db.sql(_NEXT_SEQ)
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
        for name in _RUN_JSON:
            params[name] = self._db.json_param(params[name])
        for name in _RUN_TIMES:
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
