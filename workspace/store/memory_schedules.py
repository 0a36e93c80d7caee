"""``ScheduleRepository`` in memory (the contract suite's reference).

Shares the memory store's lock: a ``save`` checks the revision, stores the fire's runs with
their keys (through the delivery repository, whose lock is the same re-entrant one) and the new
state as one atomic step, as the SQL store does in one transaction.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from workspace.domain.run import Run
from workspace.domain.schedule import Schedule
from workspace.domain.workflow import utcnow
from workspace.errors import ConflictError, NotFoundError
from workspace.store._codec import normalize_schedule, utc

if TYPE_CHECKING:
    from workspace.store.memory import _Data
    from workspace.store.memory_ops import MemoryDeliveryRepository

__all__ = ["MemoryScheduleRepository"]


class MemoryScheduleRepository:
    def __init__(self, data: _Data, deliveries: MemoryDeliveryRepository) -> None:
        self._d = data
        self._deliveries = deliveries

    def _not_found(self, schedule_id: str) -> NotFoundError:
        return NotFoundError(
            f"schedule {schedule_id!r} not found", code="schedule_not_found", id=schedule_id
        )

    def create(self, schedule: Schedule) -> Schedule:
        stored = normalize_schedule(schedule.model_copy(update={"rev": 0}))
        with self._d.lock:
            if stored.workflow_id not in self._d.workflows:
                raise NotFoundError(
                    f"workflow id {stored.workflow_id!r} not found",
                    code="workflow_not_found",
                    id=stored.workflow_id,
                )
            taken = any(
                (s.workflow_id, s.trigger_id) == (stored.workflow_id, stored.trigger_id)
                or s.id == stored.id
                for s in self._d.schedules.values()
            )
            if taken:
                raise ConflictError(
                    f"workflow {stored.workflow_slug!r} already has a schedule for trigger "
                    f"{stored.trigger_id!r}",
                    code="schedule_exists",
                )
            self._d.schedules[stored.id] = stored
        return stored.model_copy()

    def get(self, schedule_id: str) -> Schedule:
        with self._d.lock:
            found = self._d.schedules.get(schedule_id)
        if found is None:
            raise self._not_found(schedule_id)
        return found.model_copy()

    def find(self, workflow_id: str, trigger_id: str) -> Schedule | None:
        with self._d.lock:
            found = next(
                (
                    s
                    for s in self._d.schedules.values()
                    if s.workflow_id == workflow_id and s.trigger_id == trigger_id
                ),
                None,
            )
        return None if found is None else found.model_copy()

    def list(
        self,
        *,
        workflow_id: str | None = None,
        owner: str | None = None,
        paused: bool | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Schedule]:
        with self._d.lock:
            items = [
                s
                for s in self._d.schedules.values()
                if (workflow_id is None or s.workflow_id == workflow_id)
                and (owner is None or self._d.workflows[s.workflow_id].owner == owner)
                and (paused is None or s.paused == paused)
            ]
        items.sort(key=lambda s: (s.workflow_slug, s.trigger_id))
        offset, limit = max(0, offset), max(0, limit)
        return [s.model_copy() for s in items[offset : offset + limit]]

    def due(self, now: datetime, *, limit: int = 100) -> builtins.list[Schedule]:
        now = utc(now)
        with self._d.lock:
            items = [
                s for s in self._d.schedules.values() if s.wake_at is not None and s.wake_at <= now
            ]
        items.sort(key=lambda s: (s.wake_at or now, s.id))
        return [s.model_copy() for s in items[: max(0, limit)]]

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
        with self._d.lock:
            current = self._d.schedules.get(schedule.id)
            if current is None:
                raise self._not_found(schedule.id)
            if current.rev != schedule.rev:
                raise ConflictError(
                    f"schedule {schedule.id!r} was changed by someone else "
                    f"(revision {current.rev}, not {schedule.rev})",
                    code="schedule_changed",
                )
            out = [
                self._deliveries.create_run(
                    run,
                    workflow_id=schedule.workflow_id,
                    trigger_id=schedule.trigger_id,
                    key=key,
                    ttl_s=key_ttl_s,
                )
                for key, run in fires
            ]
            # fixed identity: a save never moves a schedule to another workflow or trigger
            self._d.schedules[schedule.id] = stored.model_copy(
                update={
                    "workflow_id": current.workflow_id,
                    "trigger_id": current.trigger_id,
                    "created_at": current.created_at,
                }
            )
            return self._d.schedules[schedule.id].model_copy(), out

    def delete(self, schedule_id: str) -> None:
        with self._d.lock:
            self._d.schedules.pop(schedule_id, None)
