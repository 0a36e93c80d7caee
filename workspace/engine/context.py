"""The engine's implementation of the node SDK's :class:`~workspace.sdk.NodeContext`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from workspace.domain.events import EventType
from workspace.domain.graph import RESERVED_NODE_IDS
from workspace.domain.ports import RunRepository
from workspace.engine.services import RunContext
from workspace.errors import ExpressionError, NodeError
from workspace.expressions import MISSING, PathError, lookup_path
from workspace.sdk.context import LoopInfo
from workspace.sdk.signals import Suspend

T = TypeVar("T")


def journaled(runs: RunRepository, run_id: str, key: str, fn: Callable[[], T]) -> T:
    """The value journaled under ``key`` for the run; else ``fn()``, journaled (first write
    wins, so concurrent callers agree on one value)."""
    hit = runs.journal_get(run_id, key)
    if hit is not None:
        return hit["value"]  # type: ignore[no-any-return]
    runs.journal_put(run_id, key, {"value": fn()})
    return runs.journal_get(run_id, key)["value"]  # type: ignore[no-any-return,index]


def build_scope(
    rc: RunContext,
    outputs: Mapping[str, Any],
    trigger: Any,
    input: Any,
    loop: LoopInfo | None,
) -> dict[str, Any]:
    scope: dict[str, Any] = {k: v for k, v in outputs.items() if k not in RESERVED_NODE_IDS}
    scope.update(
        input=input,
        trigger=trigger,
        outputs=outputs,
        node_outputs=outputs,
        loop=loop.as_dict() if loop else None,
        run={
            "id": rc.run.id,
            "workflow": rc.run.workflow_slug,
            "version": rc.run.version_number,
            "user": rc.run.user,
            "thread": rc.run.thread_id,
            "trigger_id": rc.run.trigger_id,
        },
    )
    return scope


class EngineNodeContext:
    """One node execution's view of the run. Built per attempt."""

    def __init__(
        self,
        rc: RunContext,
        *,
        node_id: str,
        attempt: int,
        iteration: str,
        scope: dict[str, Any],
        loop: LoopInfo | None,
        interrupt: Callable[[dict[str, Any]], Any],
        body_runner: Callable[[LoopInfo], Any] | None,
        timeout_s: float | None,
        answer_timeout_s: float | None = None,
    ) -> None:
        self._rc = rc
        self.run_id = rc.run.id
        self.workflow = rc.run.workflow_slug
        self.node_id = node_id
        self.attempt = attempt
        self.iteration = iteration
        self._scope = scope
        self.trigger = scope["trigger"]
        self.outputs: Mapping[str, Any] = scope["outputs"]
        self.loop = loop
        self._interrupt = interrupt
        self._body_runner = body_runner
        self._timeout_s = timeout_s
        #: a pausing node's ``timeout_s``: how long its questions wait for an answer
        self._answer_timeout_s = answer_timeout_s
        self._started = time.monotonic()
        self._asked = 0

    @property
    def idempotency_key(self) -> str:
        return f"{self.run_id}:{self.node_id}:{self.iteration}"

    def scope(self) -> dict[str, Any]:
        return self._scope

    def lookup(self, path: str) -> Any:
        try:
            value = lookup_path(self._scope, path)
        except PathError as exc:
            raise ExpressionError(f"node {self.node_id!r}: {exc}", node_id=self.node_id) from None
        if value is MISSING:
            raise ExpressionError(
                f"node {self.node_id!r}: path {path!r} does not exist", node_id=self.node_id
            )
        return value

    def has_path(self, path: str) -> bool:
        try:
            return lookup_path(self._scope, path) is not MISSING
        except PathError:
            return False

    def render(self, value: Any, *, field: str) -> Any:
        return self._rc.services.expressions.render(
            value, self._scope, node_id=self.node_id, field=field
        )

    def emit(self, event_type: str, data: dict[str, Any]) -> None:
        self._rc.emit(EventType(event_type), self.node_id, **data)

    def interrupt(self, request: dict[str, Any]) -> Any:
        # the n-th question of this node execution: the same key when the node re-executes
        key = f"{self.idempotency_key}#{self._asked}"
        self._asked += 1
        asked = {**request, "node_id": self.node_id, "iteration": self.iteration, "key": key}
        if self._answer_timeout_s is not None:
            # one deadline per node execution (journaled: a re-opened question keeps it)
            asked["deadline"] = self.journal(
                self.idempotency_key + ":deadline",
                lambda: (
                    datetime.now(UTC) + timedelta(seconds=float(self._answer_timeout_s or 0))
                ).isoformat(),
            )
        return self._interrupt(asked)

    def wait_until(self, when: datetime) -> None:
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        while True:
            self._rc.check_cancelled()
            left = (when - datetime.now(UTC)).total_seconds()
            if left <= 0:
                return
            remaining = self._rc.remaining_s()
            if remaining is not None and remaining < left:
                raise NodeError(
                    f"node {self.node_id!r}: wait ends after the run's time limit",
                    code="run_timeout",
                    node_id=self.node_id,
                    retryable=False,
                )
            if self._rc.may_suspend(left):
                # a durable timer: park the run and free the worker; the wake-up re-executes
                # this node, which finds its (journaled) deadline passed and returns
                raise Suspend(
                    when,
                    "wait",
                    node_id=self.node_id,
                    iteration=self.iteration,
                    key=self.idempotency_key + ":timer",
                )
            self._rc.services.sleep(min(left, self._rc.services.cancel_poll_s))

    def run_workflow(self, slug: str, payload: Any) -> Any:
        runner = self._rc.services.child_runner
        if runner is None:
            raise NodeError(
                "sub-workflows are not available in this engine",
                code="no_child_runner",
                node_id=self.node_id,
                retryable=False,
            )
        return runner(self._rc, self.node_id, self.idempotency_key, slug, payload, self.interrupt)

    def run_loop_body(self, loop: LoopInfo) -> Any:
        if self._body_runner is None:
            raise NodeError(
                f"node {self.node_id!r} has no loop body",
                code="no_loop_body",
                node_id=self.node_id,
                retryable=False,
            )
        return self._body_runner(loop)

    def journal(self, key: str, fn: Callable[[], T]) -> T:
        return journaled(self._rc.services.runs, self.run_id, key, fn)

    def check_cancelled(self) -> None:
        self._rc.check_cancelled()

    @property
    def limits(self) -> Mapping[str, Any]:
        limits = dict(self._rc.services.limits)
        budget = [t for t in (limits.get("timeout_s"), self._left()) if t is not None]
        if budget:
            limits["timeout_s"] = max(0.001, min(budget))
        return limits

    def _left(self) -> float | None:
        options = []
        if self._timeout_s is not None:
            options.append(self._timeout_s - (time.monotonic() - self._started))
        run_left = self._rc.remaining_s()
        if run_left is not None:
            options.append(run_left)
        return min(options) if options else None
