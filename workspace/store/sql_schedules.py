"""``ScheduleRepository`` on SQLAlchemy Core (table ``schedules``).

``save`` is a compare-and-set on ``rev`` and stores the fire's runs with their keys (as
deliveries of the schedule's trigger) in the same transaction: the UPDATE comes first, so on
PostgreSQL a second scheduler saving the same schedule waits for the row, then finds the
revision changed; on SQLite writers are serialised anyway. Either way one of them stores.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from workspace.domain.run import Run
from workspace.domain.schedule import InFlight, Schedule
from workspace.domain.workflow import utcnow
from workspace.errors import ConflictError, NotFoundError
from workspace.store._codec import normalize_schedule, utc, utc_or_none
from workspace.store.engine import AnyRow, Database, IntegrityViolation
from workspace.store.sql_deliveries import deliver_in
from workspace.store.sql_runs import SqlRunRepository
from workspace.store.tables import schedules, workflows

__all__ = ["SqlScheduleRepository"]

_FIELDS = [c.name for c in schedules.columns]
_COLUMNS = [schedules.c[name] for name in _FIELDS]
_TIMES = {"next_fire_at", "retry_at", "retry_slot", "last_fire_at", "wake_at"}


def _row(schedule: Schedule) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(schedule, name)
        if name == "in_flight":
            value = [entry.model_dump(mode="json") for entry in value]
        elif name in _TIMES:
            value = utc_or_none(value)
        values[name] = value
    values["created_at"] = utc(schedule.created_at)
    values["updated_at"] = utc(schedule.updated_at)
    return values


def _schedule(row: AnyRow) -> Schedule:
    data = dict(zip(_FIELDS, row, strict=True))
    data["in_flight"] = tuple(InFlight.model_validate(e) for e in data["in_flight"] or ())
    return Schedule.model_validate(data)


def _not_found(schedule_id: str) -> NotFoundError:
    return NotFoundError(
        f"schedule {schedule_id!r} not found", code="schedule_not_found", id=schedule_id
    )


class SqlScheduleRepository:
    def __init__(self, db: Database, runs_: SqlRunRepository) -> None:
        self._db = db
        self._runs = runs_

    def create(self, schedule: Schedule) -> Schedule:
        stored = normalize_schedule(schedule.model_copy(update={"rev": 0}))
        try:
            with self._db.write() as conn:
                known = conn.execute(
                    select(workflows.c.id).where(workflows.c.id == schedule.workflow_id)
                ).first()
                if known is None:
                    raise NotFoundError(
                        f"workflow id {schedule.workflow_id!r} not found",
                        code="workflow_not_found",
                        id=schedule.workflow_id,
                    )
                conn.execute(insert(schedules), [_row(stored)])
        except IntegrityViolation:
            raise ConflictError(
                f"workflow {schedule.workflow_slug!r} already has a schedule for trigger "
                f"{schedule.trigger_id!r}",
                code="schedule_exists",
            ) from None
        return self.get(stored.id)

    def get(self, schedule_id: str) -> Schedule:
        with self._db.read() as conn:
            row = conn.execute(select(*_COLUMNS).where(schedules.c.id == schedule_id)).first()
        if row is None:
            raise _not_found(schedule_id)
        return _schedule(row)

    def find(self, workflow_id: str, trigger_id: str) -> Schedule | None:
        query = select(*_COLUMNS).where(
            schedules.c.workflow_id == workflow_id, schedules.c.trigger_id == trigger_id
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _schedule(row)

    def list(
        self,
        *,
        workflow_id: str | None = None,
        owner: str | None = None,
        paused: bool | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Schedule]:
        query = select(*_COLUMNS).order_by(schedules.c.workflow_slug, schedules.c.trigger_id)
        if workflow_id is not None:
            query = query.where(schedules.c.workflow_id == workflow_id)
        if paused is not None:
            query = query.where(schedules.c.paused.is_(paused))
        if owner is not None:
            query = query.join(workflows, workflows.c.id == schedules.c.workflow_id).where(
                workflows.c.owner == owner
            )
        query = query.limit(max(0, limit)).offset(max(0, offset))
        with self._db.read() as conn:
            return [_schedule(row) for row in conn.execute(query)]

    def due(self, now: datetime, *, limit: int = 100) -> builtins.list[Schedule]:
        query = (
            select(*_COLUMNS)
            .where(schedules.c.wake_at.is_not(None), schedules.c.wake_at <= utc(now))
            .order_by(schedules.c.wake_at, schedules.c.id)
            .limit(max(0, limit))
        )
        with self._db.read() as conn:
            return [_schedule(row) for row in conn.execute(query)]

    def save(
        self,
        schedule: Schedule,
        fires: Sequence[tuple[str, Run]] = (),
        *,
        key_ttl_s: float = 7 * 86400.0,
    ) -> tuple[Schedule, builtins.list[tuple[Run, bool]]]:
        stored = normalize_schedule(
            schedule.model_copy(update={"rev": schedule.rev + 1, "updated_at": utcnow()})
        )
        values = _row(stored)
        for name in ("id", "workflow_id", "trigger_id", "created_at"):
            values.pop(name)
        outcome: list[tuple[Run | None, str | None]] = []
        try:
            with self._db.write() as conn:
                row = conn.execute(
                    update(schedules)
                    .where(schedules.c.id == schedule.id, schedules.c.rev == schedule.rev)
                    .values(**values)
                    .returning(*_COLUMNS)
                ).first()
                if row is None:
                    exists = conn.execute(
                        select(schedules.c.rev).where(schedules.c.id == schedule.id)
                    ).first()
                    if exists is None:
                        raise _not_found(schedule.id)
                    raise ConflictError(
                        f"schedule {schedule.id!r} was changed by someone else "
                        f"(revision {exists[0]}, not {schedule.rev})",
                        code="schedule_changed",
                    )
                for key, run in fires:
                    outcome.append(
                        deliver_in(
                            conn,
                            run,
                            workflow_id=schedule.workflow_id,
                            trigger_id=schedule.trigger_id,
                            key=key,
                            ttl_s=key_ttl_s,
                        )
                    )
        except IntegrityViolation:
            # the same fire key stored by a concurrent transaction: this one is void
            raise ConflictError(
                f"schedule {schedule.id!r}: a fire was stored concurrently",
                code="schedule_changed",
            ) from None
        runs_out: list[tuple[Run, bool]] = []
        for new, existing in outcome:
            if new is not None:
                runs_out.append((new, True))
            else:
                assert existing is not None
                runs_out.append((self._runs.get(existing), False))
        return _schedule(row), runs_out

    def delete(self, schedule_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(delete(schedules).where(schedules.c.id == schedule_id))
