"""The event envelope shared by every consumer (SPEC §6)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from workspace.domain.workflow import utcnow

if TYPE_CHECKING:
    from workspace.domain.run import Run


class EventType(StrEnum):
    RUN_QUEUED = "run_queued"
    RUN_STARTED = "run_started"
    NODE_STARTED = "node_started"
    NODE_SUCCEEDED = "node_succeeded"
    NODE_FAILED = "node_failed"
    NODE_SKIPPED = "node_skipped"
    NODE_RETRYING = "node_retrying"
    NODE_WAITING = "node_waiting"
    TOKEN = "token"
    TOOL_STARTED = "tool_started"
    TOOL_FINISHED = "tool_finished"
    REPLY = "reply"
    HUMAN_REQUESTED = "human_requested"
    HUMAN_ANSWERED = "human_answered"
    #: a human sent the run back to an earlier node with feedback (a revision round)
    REVISION_REQUESTED = "revision_requested"
    RUN_SUCCEEDED = "run_succeeded"
    RUN_FAILED = "run_failed"
    RUN_CANCELLED = "run_cancelled"
    RUN_PAUSED = "run_paused"
    RUN_RESUMED = "run_resumed"


class Event(BaseModel):
    """``seq`` is monotonic per run; 0 means "not yet assigned" (the event log assigns it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = 0
    run_id: str
    workflow: str
    version: int
    type: EventType
    node_id: str | None = None
    ts: datetime = Field(default_factory=utcnow)
    data: dict[str, Any] = Field(default_factory=dict)


def run_event(run: Run, type: EventType, node_id: str | None = None, **data: Any) -> Event:
    """An event of ``run`` (its workflow and version filled in); the log assigns ``seq``."""
    return Event(
        run_id=run.id,
        workflow=run.workflow_slug,
        version=run.version_number,
        type=type,
        node_id=node_id,
        data=data,
    )
