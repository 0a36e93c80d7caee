"""A run's status change on SQL: one guarded ``UPDATE ... RETURNING`` (compare-and-set).

``transition_run`` is the only SQL that writes ``runs.status``; the statuses a target may be
reached from come from the domain's state machine (``allowed_transitions``), so the rule lives
in one place. ``SqlRunRepository.transition``, the event log's ``record_transition`` (a final
status with its event) and ``SqlLeaseRepository.start`` (a queued run started together with its
lease) all call it inside their own write transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from workspace.domain.run import Run, RunStatus, allowed_transitions, check_transition
from workspace.domain.workflow import utcnow
from workspace.errors import ConflictError, InvalidTransition, NotFoundError, ValidationError
from workspace.store._codec import RUN_SETTABLE_FIELDS, json_text, time_result
from workspace.store.engine import Database
from workspace.store.tables import runs

__all__ = ["RUN_COLUMNS", "RUN_FIELDS", "RUN_JSON", "RUN_TIMES", "run_from_row", "transition_run"]

RUN_FIELDS = tuple(Run.model_fields)
RUN_JSON = frozenset({"input", "output", "error", "pending"})
RUN_TIMES = frozenset({"created_at", "started_at", "finished_at", "wake_at"})
#: column names quoted: ``user`` is a reserved word on PostgreSQL
RUN_COLUMNS = ", ".join(f'"{f}"' for f in RUN_FIELDS)
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
_TRANSITIONS: dict[tuple[str, RunStatus, tuple[str, ...], bool, int], str] = {}


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
        if name in RUN_JSON:
            value = json_text(value, what=f"run {name}")
        elif name in RUN_TIMES:
            value = db.time_param(value)
        elif isinstance(value, Enum):
            value = value.value
        values[name] = value
    return values


def _transition_sql(
    db: Database, target: RunStatus, names: tuple[str, ...], lease: bool, n_sources: int
) -> str:
    key = (db.dialect, target, names, lease, n_sources)
    query = _TRANSITIONS.get(key)
    if query is None:
        sets = ['"status" = :status', *(f'"{n}" = :{n}' for n in names)]
        # the timestamps a status implies, unless given or already set (as ``run_changes``)
        if target == RunStatus.RUNNING and "started_at" not in names:
            sets.append("started_at = COALESCE(started_at, :now)")
        if target.terminal and "finished_at" not in names:
            sets.append("finished_at = COALESCE(finished_at, :now)")
        if target.terminal:  # a finished run has no driver: its lease goes in the same write
            sets.append("lease_owner = NULL, lease_until = NULL")
        elif lease:  # its new driver's lease, in the same write
            sets.append("lease_owner = :lease_owner, lease_until = :lease_until")
        sources = ", ".join(f":src{i}" for i in range(n_sources))
        query = db.sql(
            f"UPDATE {runs.name} SET {', '.join(sets)} "
            f'WHERE id = :b_id AND "status" IN ({sources}) RETURNING {RUN_COLUMNS}'
        )
        if len(_TRANSITIONS) < 1024:
            _TRANSITIONS[key] = query
    return query


def run_from_row(db: Database, row: Sequence[Any]) -> Run:
    values = dict(zip(RUN_FIELDS, row, strict=True))
    for name in RUN_JSON:
        values[name] = db.json_result(values[name])
    for name in RUN_TIMES:
        values[name] = time_result(values[name])
    return Run.model_validate(values)


def transition_run(
    db: Database,
    cur: Any,
    run_id: str,
    target: RunStatus,
    fields: dict[str, Any],
    *,
    source: RunStatus | None = None,
    lease: tuple[str, datetime] | None = None,
) -> Run:
    """Inside the caller's write transaction: move the run to ``target`` through the state
    machine and set ``fields`` (``RunRepository.transition``'s contract). ``source``: only
    from that status (InvalidTransition from any other); ``lease`` (owner, until) also gives
    the run to that driver. A terminal status drops the run's lease.

    One statement: an UPDATE guarded by the statuses ``target`` may be reached from, returning
    the changed row (compare-and-set; nothing is read first). Only when it changes nothing is
    the status read, to say why (not found, or the transition is refused).
    """
    target = RunStatus(target)
    sources = _SOURCES[target]
    if source is not None:
        check_transition(source, target)  # the state machine must allow the edge itself
        sources = (source.value,)
    if not sources:
        raise ConflictError(f"no run status can become {target.value}", run_id=run_id)
    params = _run_values(db, fields)
    params.update(status=target.value, b_id=run_id, now=db.time_param(utcnow()))
    params.update((f"src{i}", s) for i, s in enumerate(sources))
    if lease is not None:
        params.update(lease_owner=lease[0], lease_until=db.time_param(lease[1]))
    query = _transition_sql(db, target, tuple(sorted(fields)), lease is not None, len(sources))
    status_query = db.sql(_RUN_STATUS)
    for _ in range(_CAS_ATTEMPTS):
        cur.execute(query, params)
        row = cur.fetchone()
        if row is not None:
            return run_from_row(db, row)
        cur.execute(status_query, {"b_id": run_id})
        found = cur.fetchone()
        if found is None:
            raise NotFoundError(f"run {run_id!r} not found", run_id=run_id)
        current = RunStatus(found[0])
        if source is not None and current != source:
            raise InvalidTransition(
                f"run {run_id!r} is {current.value}, not {source.value}", run_id=run_id
            )
        check_transition(current, target)  # refused: InvalidTransition
        # allowed now: the status changed after our UPDATE looked (PostgreSQL); try again
    raise ConflictError(
        f"run {run_id!r} kept changing concurrently; transition to {target.value} not applied",
        run_id=run_id,
    )
