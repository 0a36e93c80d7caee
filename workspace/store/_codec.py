"""Value normalisation shared by the SQL and in-memory stores, so both behave identically.

Free-form values (run input/output, step data, journal values, event data) are stored as JSON:
tuples come back as lists, datetimes as ISO strings, pydantic models as dicts. Datetimes in model
fields are normalised to timezone-aware UTC (a naive datetime is taken to be UTC).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticSerializationError, to_jsonable_python

from workspace.domain.events import Event
from workspace.domain.run import Run, RunStatus, StepRecord
from workspace.domain.schedule import Schedule
from workspace.domain.usage import Usage
from workspace.errors import ValidationError

__all__ = [
    "RUN_SETTABLE_FIELDS",
    "json_text",
    "json_value",
    "normalize_event",
    "normalize_run",
    "normalize_schedule",
    "normalize_step",
    "run_changes",
    "utc",
    "utc_or_none",
]


def json_value(value: Any, *, what: str = "value") -> Any:
    """A fresh JSON-compatible copy of ``value`` (raises ValidationError if it cannot be one)."""
    if value is None:
        return None
    try:
        plain = to_jsonable_python(value)
        # a JSON round trip gives an independent copy with exactly the JSON types
        return json.loads(json.dumps(plain, allow_nan=False))
    except (PydanticSerializationError, TypeError, ValueError) as exc:
        raise ValidationError(f"{what} cannot be stored as JSON: {exc}") from None


def json_text(value: Any, *, what: str = "value") -> str | None:
    """``value`` serialised as JSON text in one pass (None → SQL NULL); the write fast path."""
    if value is None:
        return None
    try:
        return json.dumps(to_jsonable_python(value), allow_nan=False)
    except (PydanticSerializationError, TypeError, ValueError) as exc:
        raise ValidationError(f"{what} cannot be stored as JSON: {exc}") from None


def utc(value: datetime) -> datetime:
    """``value`` as a timezone-aware UTC datetime."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def time_result(value: Any) -> datetime | None:
    """A ``UTCDateTime`` column value read through ``Database.raw`` (SQLite returns text)."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


# --- domain records -----------------------------------------------------------------------------

_RUN_JSON_FIELDS = ("input", "output", "error", "pending")
_RUN_TIME_FIELDS = ("created_at", "started_at", "finished_at", "wake_at")
#: Run fields ``update``/``transition`` may set (the id is fixed, status goes via ``transition``).
RUN_SETTABLE_FIELDS = frozenset(Run.model_fields) - {"id", "status"}


def normalize_run(run: Run) -> Run:
    """A stored copy of ``run``: JSON fields copied as JSON, datetimes in UTC."""
    update: dict[str, Any] = {
        f: json_value(getattr(run, f), what=f"run {f}") for f in _RUN_JSON_FIELDS
    }
    update.update({f: utc_or_none(getattr(run, f)) for f in _RUN_TIME_FIELDS})
    return run.model_copy(update=update)


_SCHEDULE_TIME_FIELDS = (
    "next_fire_at",
    "retry_at",
    "retry_slot",
    "last_fire_at",
    "wake_at",
    "created_at",
    "updated_at",
)


def normalize_schedule(schedule: Schedule) -> Schedule:
    """A stored copy of ``schedule``: datetimes (also of its runs in flight) in UTC."""
    update: dict[str, Any] = {f: utc_or_none(getattr(schedule, f)) for f in _SCHEDULE_TIME_FIELDS}
    update["in_flight"] = tuple(
        e.model_copy(update={"slot": utc(e.slot)}) for e in schedule.in_flight
    )
    return schedule.model_copy(update=update)


def normalize_step(step: StepRecord) -> StepRecord:
    return step.model_copy(
        update={
            "input": json_value(step.input, what="step input"),
            "output": json_value(step.output, what="step output"),
            "error": json_value(step.error, what="step error"),
            "started_at": utc_or_none(step.started_at),
            "finished_at": utc_or_none(step.finished_at),
        }
    )


def normalize_event(event: Event, seq: int) -> Event:
    return event.model_copy(
        update={"seq": seq, "ts": utc(event.ts), "data": json_value(event.data, what="event data")}
    )


def run_changes(
    run: Run, fields: dict[str, Any], *, target: RunStatus | None = None
) -> tuple[Run, dict[str, Any]]:
    """Validate ``fields`` (and a new status) against ``run``.

    Returns the updated, normalised run and the column values that change (only the given
    fields, the status and the timestamps it implies), so a writer never clobbers columns it
    did not mean to set. Moving to ``running`` sets ``started_at`` and moving to a terminal
    status sets ``finished_at`` unless given or already set.
    """
    unknown = sorted(set(fields) - RUN_SETTABLE_FIELDS)
    if "status" in fields:
        raise ValidationError("change a run's status with transition(), not update()")
    if unknown:
        raise ValidationError(f"runs have no settable field(s) {', '.join(unknown)}")
    changes = dict(fields)
    if target is not None:
        changes["status"] = target
        now = datetime.now(UTC)
        if target == RunStatus.RUNNING and run.started_at is None and "started_at" not in fields:
            changes["started_at"] = now
        if target.terminal and run.finished_at is None and "finished_at" not in fields:
            changes["finished_at"] = now
    try:
        updated = Run.model_validate({**run.model_dump(), **changes})
    except PydanticValidationError as exc:
        raise ValidationError(f"invalid run field value: {exc}") from None
    updated = normalize_run(updated)
    return updated, {name: getattr(updated, name) for name in changes}


def sum_usage(rows: Iterable[tuple[int | None, float | None]]) -> Usage:
    """Usage of steps given as (tokens, cost): steps with tokens and no cost are unpriced."""
    tokens, cost, unpriced = 0, 0.0, 0
    for step_tokens, step_cost in rows:
        if step_tokens is None:
            continue
        tokens += int(step_tokens)
        if step_cost is None:
            unpriced += 1
        else:
            cost += float(step_cost)
    return Usage(tokens, cost, unpriced)
