"""``RunRepository`` on SQLAlchemy Core (runs, steps, journal).

Statements are built once per repository (with bind parameters) so a call only binds values:
these run for every node of every run.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from workspace.domain.run import Run, RunStatus, StepRecord
from workspace.domain.usage import Usage
from workspace.domain.workflow import utcnow
from workspace.errors import ConflictError, NotFoundError
from workspace.store._codec import (
    json_text,
    json_value,
    normalize_run,
    normalize_step,
    run_changes,
    sum_usage,
)
from workspace.store.engine import AnyRow, Database, IntegrityViolation
from workspace.store.sql_transitions import transition_run
from workspace.store.tables import journal, runs, steps

__all__ = ["SqlRunRepository"]

#: How often ``transition`` re-reads and re-validates after losing a compare-and-set race.
_CAS_ATTEMPTS = 20

_RUN_FIELDS = tuple(Run.model_fields)
_RUN_COLUMNS = tuple(runs.c[name] for name in _RUN_FIELDS)
_STEP_FIELDS = tuple(StepRecord.model_fields)
_STEP_COLUMNS = tuple(steps.c[name] for name in _STEP_FIELDS)
_STEP_KEY = ("run_id", "node_id", "iteration")

# bind parameter names in WHERE clauses must differ from column names set by UPDATE
_SELECT_RUN = select(*_RUN_COLUMNS).where(runs.c.id == bindparam("b_id"))
_INSERT_RUN = insert(runs)
_CAS_UPDATE = update(runs).where(runs.c.id == bindparam("b_id"), runs.c.status == bindparam("b_st"))
_UPDATE = update(runs).where(runs.c.id == bindparam("b_id"))
_SELECT_STEPS = (
    select(*_STEP_COLUMNS).where(steps.c.run_id == bindparam("b_run")).order_by(steps.c.id)
)

# Hot paths (every node of every run): pre-written SQL run through Database.raw.
_STEP_VALUES = tuple(f for f in _STEP_FIELDS if f not in _STEP_KEY)
UPSERT_STEP = (
    f"INSERT INTO {steps.name} ({', '.join(_STEP_FIELDS)}) "
    f"VALUES ({', '.join(':' + f for f in _STEP_FIELDS)}) "
    f"ON CONFLICT ({', '.join(_STEP_KEY)}) DO UPDATE SET "
    + ", ".join(f"{f} = excluded.{f}" for f in _STEP_VALUES)
)
_STEP_JSON = ("input", "output", "error")
_STEP_TIMES = ("started_at", "finished_at")
_JOURNAL_PUT = (
    f"INSERT INTO {journal.name} (run_id, key, value, created_at) "
    "VALUES (:run_id, :key, :value, :created_at) ON CONFLICT (run_id, key) DO NOTHING"
)
_JOURNAL_GET = f"SELECT value FROM {journal.name} WHERE run_id = :run_id AND key = :key"


def step_params(db: Database, step: StepRecord) -> dict[str, Any]:
    """The parameters of ``UPSERT_STEP`` for ``step`` (JSON serialised once, times in UTC)."""
    values = {name: _db_value(getattr(step, name)) for name in _STEP_FIELDS}
    for name in _STEP_JSON:
        values[name] = json_text(values[name], what=f"step {name}")
    for name in _STEP_TIMES:
        values[name] = db.time_param(values[name])
    return values


def _db_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def run_row(run: Run) -> tuple[Run, dict[str, Any]]:
    """The normalised run and the column values that insert it."""
    stored = normalize_run(run)
    values = {name: _db_value(getattr(stored, name)) for name in _RUN_FIELDS}
    values["last_event_seq"] = 0
    return stored, values


def _run(row: AnyRow) -> Run:
    return Run.model_validate(dict(zip(_RUN_FIELDS, row, strict=True)))


def _not_found(run_id: str) -> NotFoundError:
    return NotFoundError(f"run {run_id!r} not found", run_id=run_id)


class SqlRunRepository:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._upsert_step = db.sql(UPSERT_STEP)
        self._journal_put = db.sql(_JOURNAL_PUT)
        self._journal_get = db.sql(_JOURNAL_GET)

    def create(self, run: Run) -> Run:
        stored, values = run_row(run)
        try:
            with self._db.write() as conn:
                conn.execute(_INSERT_RUN, values)
        except IntegrityViolation:
            raise ConflictError(f"a run with id {run.id!r} already exists", run_id=run.id) from None
        return stored

    def get(self, run_id: str) -> Run:
        with self._db.read() as conn:
            row = conn.execute(_SELECT_RUN, {"b_id": run_id}).first()
        if row is None:
            raise _not_found(run_id)
        return _run(row)

    def list(
        self,
        *,
        workflow_id: str | None = None,
        status: RunStatus | None = None,
        parent_run_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Run]:
        query = select(*_RUN_COLUMNS).order_by(runs.c.created_at.desc(), runs.c.id.desc())
        if workflow_id is not None:
            query = query.where(runs.c.workflow_id == workflow_id)
        if status is not None:
            query = query.where(runs.c.status == RunStatus(status).value)
        if parent_run_id is not None:
            query = query.where(runs.c.parent_run_id == parent_run_id)
        query = query.limit(max(0, limit)).offset(max(0, offset))
        with self._db.read() as conn:
            return [_run(row) for row in conn.execute(query)]

    def transition(self, run_id: str, target: RunStatus, **fields: Any) -> Run:
        # one guarded UPDATE ... RETURNING (compare-and-set) on a raw cursor: see transition_run
        with self._db.raw(write=True) as cur:
            return transition_run(self._db, cur, run_id, target, fields)

    def update(self, run_id: str, **fields: Any) -> Run:
        with self._db.write() as conn:
            row = conn.execute(_SELECT_RUN, {"b_id": run_id}).first()
            if row is None:
                raise _not_found(run_id)
            updated, changes = run_changes(_run(row), fields)
            if changes:
                params = {name: _db_value(value) for name, value in changes.items()}
                conn.execute(_UPDATE, {**params, "b_id": run_id})
        return updated

    # --- steps ------------------------------------------------------------------------------

    def save_step(self, step: StepRecord) -> StepRecord:
        values = step_params(self._db, step)
        stored = normalize_step(step)
        try:
            with self._db.raw(write=True) as cur:
                cur.execute(self._upsert_step, values)
        except IntegrityViolation:
            raise _not_found(step.run_id) from None
        return stored

    def list_steps(self, run_id: str) -> builtins.list[StepRecord]:
        with self._db.read() as conn:
            return [
                StepRecord.model_validate(dict(zip(_STEP_FIELDS, row, strict=True)))
                for row in conn.execute(_SELECT_STEPS, {"b_run": run_id})
            ]

    def usage(
        self,
        *,
        run_ids: Sequence[str] | None = None,
        workflow_id: str | None = None,
        since: datetime | None = None,
    ) -> Usage:
        query = select(steps.c.tokens, steps.c.cost).where(steps.c.tokens.is_not(None))
        if run_ids is not None:
            if not run_ids:
                return Usage()
            query = query.where(steps.c.run_id.in_(list(run_ids)))
        else:
            query = query.join(runs, runs.c.id == steps.c.run_id).where(
                runs.c.workflow_id == workflow_id
            )
            if since is not None:
                query = query.where(runs.c.created_at >= since)
        with self._db.read() as conn:
            return sum_usage((row[0], row[1]) for row in conn.execute(query))

    # --- journal ----------------------------------------------------------------------------

    def journal_get(self, run_id: str, key: str) -> Any | None:
        with self._db.raw(write=False) as cur:
            cur.execute(self._journal_get, {"run_id": run_id, "key": key})
            row = cur.fetchone()
        return None if row is None else self._db.json_result(row[0])

    def journal_put(self, run_id: str, key: str, value: Any) -> None:
        db = self._db
        params = {
            "run_id": run_id,
            "key": key,
            "value": db.json_param(json_value(value, what="journal value")),
            "created_at": db.time_param(utcnow()),
        }
        try:
            with db.raw(write=True) as cur:
                cur.execute(self._journal_put, params)
        except IntegrityViolation:
            raise _not_found(run_id) from None
