"""``/api/v1/schedules``: list (filters, pages), detail, pause, resume, run now.

A schedule is its workflow's: members see the schedules of their own workflows (others' are
404, as if absent); admins see all. The configuration shown is read from the workflow's
published version (the schedule keeps only state).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter

from workspace.api.deps import WS, Caller, Paging
from workspace.domain.access import User
from workspace.domain.schedule import Schedule
from workspace.errors import NotFoundError, PlaitError
from workspace.runtime.scheduler import ScheduleControl
from workspace.runtime.workspace import Workspace

router = APIRouter(prefix="/schedules", tags=["schedules"])


def _control(ws: Workspace) -> ScheduleControl:
    return ScheduleControl(ws)


def _owned(ws: Workspace, user: User, schedule_id: str) -> Schedule:
    missing = NotFoundError(f"schedule {schedule_id!r} not found", code="schedule_not_found")
    try:
        schedule = ws.store.schedules.get(schedule_id)
        wf = ws.store.workflows.get_by_id(schedule.workflow_id)
    except NotFoundError:
        raise missing from None
    if not user.may_access(wf.owner):
        raise missing
    return schedule


def _out(control: ScheduleControl, schedule: Schedule) -> dict[str, Any]:
    body: dict[str, Any] = schedule.model_dump(mode="json", exclude={"rev"})
    try:
        body["config"] = dataclasses.asdict(control.spec(schedule))
    except PlaitError:
        body["config"] = None  # its workflow changed under it; the scheduler resyncs it
    return body


@router.get("")
def list_schedules(
    ws: WS,
    user: Caller,
    paging: Paging,
    workflow: str | None = None,
    paused: bool | None = None,
) -> dict[str, Any]:
    control = _control(ws)
    items = control.list(
        workflow=workflow,
        owner=None if user.is_admin else user.id,
        paused=paused,
        limit=paging.limit,
        offset=paging.offset,
    )
    return {"items": [_out(control, s) for s in items], "limit": paging.limit}


@router.get("/{schedule_id}")
def get_schedule(schedule_id: str, ws: WS, user: Caller) -> dict[str, Any]:
    return _out(_control(ws), _owned(ws, user, schedule_id))


@router.post("/{schedule_id}/pause")
def pause(schedule_id: str, ws: WS, user: Caller) -> dict[str, Any]:
    _owned(ws, user, schedule_id)
    control = _control(ws)
    return _out(control, control.pause(schedule_id))


@router.post("/{schedule_id}/resume")
def resume(schedule_id: str, ws: WS, user: Caller) -> dict[str, Any]:
    _owned(ws, user, schedule_id)
    control = _control(ws)
    return _out(control, control.resume(schedule_id))


@router.post("/{schedule_id}/run-now", status_code=202)
def run_now(schedule_id: str, ws: WS, user: Caller) -> dict[str, Any]:
    _owned(ws, user, schedule_id)
    run = _control(ws).run_now(schedule_id)
    return {"run_id": run.id, "status": run.status.value, "run": run.model_dump(mode="json")}
