"""Pure domain model of Plait: workflows, graphs, versions, runs, steps, events.

No SQLAlchemy, LangGraph, LangChain or Jinja here; see README.md.
"""

from workspace.domain.events import Event, EventType
from workspace.domain.graph import (
    ATTACHMENT_KINDS,
    DataType,
    Edge,
    EdgeKind,
    JoinSpec,
    Node,
    Position,
    RetryPolicy,
    WorkflowGraph,
)
from workspace.domain.run import (
    TERMINAL_RUN_STATUSES,
    Run,
    RunStatus,
    StepRecord,
    StepStatus,
    check_transition,
)
from workspace.domain.workflow import Draft, Version, Workflow

__all__ = [
    "ATTACHMENT_KINDS",
    "TERMINAL_RUN_STATUSES",
    "DataType",
    "Draft",
    "Edge",
    "EdgeKind",
    "Event",
    "EventType",
    "JoinSpec",
    "Node",
    "Position",
    "RetryPolicy",
    "Run",
    "RunStatus",
    "StepRecord",
    "StepStatus",
    "Version",
    "Workflow",
    "WorkflowGraph",
    "check_transition",
]
