"""Control-flow signals. These are not errors: they never derive from PlaitError."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class ControlSignal(BaseException):
    """Base of engine control flow (derives from BaseException so ``except Exception`` in node
    code cannot swallow it)."""


class RunCancelled(ControlSignal):
    """The run was cancelled; stop between steps."""


class AttemptAbandoned(ControlSignal):
    """This node attempt timed out and was given up; stop what it started."""


class RunPaused(ControlSignal):
    """The run was paused by a user; stop between steps, resumable."""


class Suspend(ControlSignal):
    """Release the worker until ``resume_at`` (durable timers, delayed retries).

    Raised by the engine where a node would otherwise sleep (a ``wait`` node, a retry
    backoff) when the run is driven by workers and the sleep is long: the run parks at its
    checkpoint (status ``waiting`` with a timer) and a wake-up continues it later. ``key``
    names the timer (stable when the node re-executes), ``detail`` goes into the run's
    pending timer (e.g. the retry's next attempt).
    """

    def __init__(
        self,
        resume_at: datetime,
        reason: str = "wait",
        *,
        node_id: str = "",
        iteration: str = "",
        key: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.resume_at = resume_at
        self.reason = reason
        self.node_id = node_id
        self.iteration = iteration
        self.key = key
        self.detail = dict(detail or {})


class HumanInterrupt(ControlSignal):
    """Raised through node code when the run must pause for a human (or a child run's human).

    Carries the engine's own interrupt exception so the compiler can hand it back to LangGraph;
    being a BaseException, node code catching ``Exception`` cannot swallow it."""

    def __init__(self, inner: BaseException) -> None:
        super().__init__("human interrupt")
        self.inner = inner
