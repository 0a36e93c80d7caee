"""Runs, step records and the run status state machine (SPEC §4.6).

Every status change of a run goes through :func:`check_transition`; terminal states are final.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workspace.domain.workflow import new_id, utcnow
from workspace.errors import InvalidTransition


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_RUN_STATUSES


#: the actor recorded for decisions nobody made in time (a human node's ``on_timeout``)
TIMEOUT_ACTOR = "system:timeout"

TERMINAL_RUN_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})

_ALLOWED: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.QUEUED: frozenset(
        {RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.FAILED, RunStatus.PAUSED}
    ),
    RunStatus.RUNNING: frozenset(
        {
            RunStatus.WAITING,
            RunStatus.PAUSED,
            RunStatus.SUCCEEDED,
            RunStatus.FAILED,
            RunStatus.CANCELLED,
            RunStatus.QUEUED,  # re-enqueued by recovery after a crash
        }
    ),
    RunStatus.WAITING: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.FAILED}),
    RunStatus.PAUSED: frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLED}),
    RunStatus.SUCCEEDED: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}


def allowed_transitions(status: RunStatus) -> frozenset[RunStatus]:
    return _ALLOWED[status]


def check_transition(current: RunStatus, target: RunStatus) -> None:
    """Raise :class:`InvalidTransition` unless ``current → target`` is in the state machine."""
    if target not in _ALLOWED[current]:
        if current.terminal:
            msg = f"run is {current.value}, a final state; it cannot become {target.value}"
        else:
            msg = f"run status cannot go from {current.value} to {target.value}"
        raise InvalidTransition(msg, current=current.value, target=target.value)


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    WAITING = "waiting"
    RETRYING = "retrying"
    CANCELLED = "cancelled"


class Run(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_id)
    workflow_id: str
    workflow_slug: str
    version_number: int
    version_hash: str
    trigger_id: str
    status: RunStatus = RunStatus.QUEUED
    input: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    #: what a ``waiting`` run waits for: ``{"requests": [open human requests, each with its
    #: one-time token and optional ``deadline``], "timers": [durable timers: wait deadlines and
    #: delayed retries, each with ``until``]}``
    pending: dict[str, Any] | None = None
    #: when a waiting run must be woken (its earliest timer or human deadline; the sweeper
    #: sends a ``wake`` task then). Set with the ``waiting`` status in one write.
    wake_at: datetime | None = None
    parent_run_id: str | None = None
    rerun_of: str | None = None
    rerun_from_node: str | None = None
    thread_id: str | None = None
    user: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class StepRecord(BaseModel):
    """One execution of one node (``iteration`` distinguishes loop iterations, "" outside loops)."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    node_id: str
    iteration: str = ""
    attempt: int = 1
    status: StepStatus
    input: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    route: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    tokens: int | None = None
    cost: float | None = None
