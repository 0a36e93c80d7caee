"""Failures that end a run (not one node): a node failed with nothing to handle it, the run's
time limit passed, the run's budget is spent. Each carries the error object stored on the run."""

from __future__ import annotations

from typing import Any

from workspace.errors import PlaitError

__all__ = ["BudgetExceeded", "NodeFailed", "RunTimeout"]


class NodeFailed(PlaitError):
    """A node failed after its retries and no error edge handles it: the run fails."""

    code = "node_failed"

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", "node failed"), code=error.get("code"))
        self.error = error


class RunTimeout(NodeFailed):
    """The run's own time limit passed; no error edge or retry applies."""

    code = "run_timeout"


class BudgetExceeded(NodeFailed):
    """The run's (or its workflow's) LLM budget is spent; no error edge or retry applies."""

    code = "budget_exceeded"
