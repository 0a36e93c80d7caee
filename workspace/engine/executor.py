"""Executes one node: render config, validate, call the executor with retries, timeouts and the
side-effect journal, and record the step (record + events). Shared by the main schedule and loop
bodies. Knows nothing about LangGraph.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pydantic

from workspace.domain.copies import replaced
from workspace.domain.events import EventType
from workspace.domain.graph import Node, RetryPolicy
from workspace.domain.run import StepRecord, StepStatus
from workspace.domain.workflow import utcnow
from workspace.engine.context import EngineNodeContext, build_scope
from workspace.engine.failures import BudgetExceeded, NodeFailed, RunTimeout
from workspace.engine.limits import call_with_timeout
from workspace.engine.services import RunContext
from workspace.errors import NodeError, NodeTimeout, PlaitError
from workspace.sdk.context import LoopInfo
from workspace.sdk.models import Attached
from workspace.sdk.node import NodeResult, NodeType
from workspace.sdk.signals import ControlSignal, Suspend

_PREVIEW_CHARS = 2000
_NO_RETRY = RetryPolicy()
#: journal key suffix of a node's n-th retry: ``{run}:{node}:{iteration}:retry#n``
_RETRY = ":retry#"


@dataclass
class Outcome:
    status: str  # "succeeded" | "failed"
    output: Any = None
    route: str | None = None
    error: dict[str, Any] | None = None
    #: LLM ``tokens`` / ``cost`` the node used (journaled with the outcome, so a replay keeps them)
    usage: dict[str, Any] | None = None
    #: the revision round the node asked for (``RevisionRequest`` fields; SPEC §4.5)
    revision: dict[str, Any] | None = None


@dataclass
class NodeCall:
    """Everything needed to execute one node once."""

    node: Node
    input: Any
    outputs: dict[str, Any]
    trigger: Any
    iteration: str = ""
    loop: LoopInfo | None = None
    handled: bool = False  # an error edge leaves this node
    memoize: bool = False  # journal the outcome even without side effects (loop bodies)
    interrupt: Callable[[dict[str, Any]], Any] | None = None
    body_runner: Callable[[LoopInfo], Any] | None = None
    #: nodes attached to this one (llm / tool / memory edges)
    attached: tuple[Attached, ...] = ()
    #: the revision round the node runs in (``{{ revision }}``; None: round 0)
    revision: dict[str, Any] | None = None


def error_object(exc: BaseException, node_id: str, attempt: int) -> dict[str, Any]:
    if isinstance(exc, PlaitError):
        err = exc.to_dict()
    else:
        err = {"code": "exception", "message": str(exc) or type(exc).__name__}
    err.update(type=type(exc).__name__, node_id=node_id, attempt=attempt)
    return err


def _retryable(exc: BaseException, policy: RetryPolicy) -> bool:
    if isinstance(exc, NodeError) and not exc.retryable:
        return False
    if isinstance(exc, pydantic.ValidationError):
        return False
    if not policy.retry_on:
        return True
    code = getattr(exc, "code", None)
    names = {type(c).__name__ for c in [exc]} | {c.__name__ for c in type(exc).__mro__}
    return any(r == code or r in names for r in policy.retry_on)


def _preview(value: Any) -> Any:
    text = repr(value)
    return value if len(text) <= _PREVIEW_CHARS else text[:_PREVIEW_CHARS] + "…"


class NodeExecutor:
    def __init__(self, rc: RunContext) -> None:
        self.rc = rc

    def run(self, call: NodeCall) -> Outcome:
        rc, node = self.rc, call.node
        rc.check_cancelled()
        node_type = rc.services.registry.get(node.type)
        policy = node.retry or _NO_RETRY
        # pausing nodes (human, wait) need no memo: their answer / deadline is journaled already
        journaled = node_type.side_effects or (call.memoize and not node_type.pauses)
        key = f"{rc.run.id}:{node.id}:{call.iteration}"
        hit = rc.services.runs.journal_get(rc.run.id, key) if journaled else None
        attempt, retry_at = 1, None
        if hit is None and policy.max_attempts > 1:
            # a retry that parked the run (or a crash) continues with its attempt number
            attempt, retry_at = self._retry_state(key, call)
        step = rc.new_step(node.id, call.iteration, call.input)
        if attempt > 1:
            step = step.model_copy(update={"attempt": attempt})
        rc.begin_step(step, iteration=call.iteration)
        t0 = time.perf_counter()
        if hit is not None:
            return self._finish(call, step, t0, Outcome(**hit), replayed=True)
        if retry_at is not None:
            self._sleep((retry_at - utcnow()).total_seconds(), node.id)

        while True:
            try:
                self._check_run_deadline(node.id)
                result = self._attempt(call, node_type, attempt)
                break
            except (ControlSignal, RunTimeout, BudgetExceeded):
                raise
            except Exception as exc:
                err = error_object(exc, node.id, attempt)
                if attempt < policy.max_attempts and _retryable(exc, policy):
                    delay = policy.delay_for(attempt)
                    if policy.jitter:
                        delay *= random.uniform(0.5, 1.0)
                    # a service that said when to come back (HTTP 429 retry-after) is obeyed
                    hint = exc.details.get("retry_after_s") if isinstance(exc, PlaitError) else None
                    if isinstance(hint, int | float) and hint > delay:
                        delay = float(hint)
                    self._retry_fits(delay, node.id)
                    until = utcnow() + timedelta(seconds=delay)
                    # journaled before it is announced: a re-execution (after a park or a
                    # crash) continues with the next attempt at this time
                    rc.services.runs.journal_put(
                        rc.run.id, f"{key}{_RETRY}{attempt}", {"until": until.isoformat()}
                    )
                    parks = rc.may_suspend(delay)
                    step = step.model_copy(
                        update={"status": StepStatus.RETRYING, "error": err, "attempt": attempt}
                    )
                    retrying: dict[str, Any] = {
                        "attempt": attempt,
                        "error": err,
                        "delay_s": round(delay, 3),
                        "iteration": call.iteration,
                    }
                    if parks:
                        retrying["until"] = until.isoformat()
                    rc.record(step, EventType.NODE_RETRYING, **retrying)
                    if parks:
                        raise Suspend(
                            until,
                            "retry",
                            node_id=node.id,
                            iteration=call.iteration,
                            key=f"{key}{_RETRY}{attempt}",
                            detail={"attempt": attempt + 1},
                        ) from None
                    self._sleep(delay, node.id)
                    attempt += 1
                    step = step.model_copy(update={"attempt": attempt})
                    continue
                return self._finish(
                    call,
                    step.model_copy(update={"attempt": attempt}),
                    t0,
                    Outcome("failed", error=err, usage=rc.take_usage(node.id, call.iteration)),
                )
        outcome = Outcome(
            "succeeded",
            result.output,
            result.route,
            usage=rc.take_usage(node.id, call.iteration),
            revision=dataclasses.asdict(result.revision) if result.revision else None,
        )
        if journaled:
            # outside the retry loop: a result that cannot be journaled fails the node without
            # repeating a side effect that already happened
            try:
                rc.services.runs.journal_put(rc.run.id, key, outcome.__dict__)
            except PlaitError as exc:
                failed = Outcome("failed", error=error_object(exc, node.id, attempt))
                return self._finish(call, step, t0, failed)
        return self._finish(call, step, t0, outcome)

    def _retry_state(self, key: str, call: NodeCall) -> tuple[int, datetime | None]:
        """The attempt to run next and when (the retries journaled so far). A retry still
        far away parks the run again (before anything is recorded)."""
        rc = self.rc
        done, last = 0, None
        while True:
            hit = rc.services.runs.journal_get(rc.run.id, f"{key}{_RETRY}{done + 1}")
            if hit is None:
                break
            done, last = done + 1, hit
        if last is None:
            return 1, None
        until = datetime.fromisoformat(last["until"])
        if rc.may_suspend((until - utcnow()).total_seconds()):
            raise Suspend(
                until,
                "retry",
                node_id=call.node.id,
                iteration=call.iteration,
                key=f"{key}{_RETRY}{done}",
                detail={"attempt": done + 1},
            )
        return done + 1, until

    def _attempt(self, call: NodeCall, node_type: NodeType, attempt: int) -> NodeResult:
        rc, node = self.rc, call.node
        scope = build_scope(
            rc, call.outputs, call.trigger, call.input, call.loop, revision=call.revision
        )
        timeout = node.timeout_s or rc.services.default_node_timeout_s
        answer_timeout = None
        if node_type.pauses:
            # a human/wait node's timeout_s is its answer deadline, not CPU time
            answer_timeout, timeout = node.timeout_s, None
        ctx = EngineNodeContext(
            rc,
            node_id=node.id,
            attempt=attempt,
            iteration=call.iteration,
            scope=scope,
            loop=call.loop,
            interrupt=call.interrupt or _no_interrupt,
            body_runner=call.body_runner,
            timeout_s=timeout,
            answer_timeout_s=answer_timeout,
            attached=call.attached,
        )
        if node_type.is_trigger:
            payload = call.trigger
            return NodeResult(output=payload if isinstance(payload, dict) else {"output": payload})
        run_left = rc.remaining_s()
        run_bound = run_left is not None and (timeout is None or run_left < timeout)
        if run_left is not None:
            timeout = run_left if timeout is None else min(timeout, run_left)

        def attempt_once() -> Any:
            # templates render inside the time limit too: a runaway template is a timeout
            config = self._config(node, node_type, scope)
            return node_type.execute(ctx, config, call.input)

        try:
            value = call_with_timeout(attempt_once, timeout, node.id)
        except NodeTimeout:
            if not run_bound:
                raise
            raise RunTimeout(_run_timeout_error(node.id)) from None
        if isinstance(value, NodeResult):
            result = value
        elif isinstance(value, dict):
            result = NodeResult(output=value)
        else:
            result = NodeResult(output={"output": value})
        if node_type.routes and result.route is None:
            raise NodeError(
                f"routing node {node.id!r} emitted no route",
                code="no_route",
                node_id=node.id,
                retryable=False,
            )
        return result

    def _config(self, node: Node, node_type: NodeType, scope: dict[str, Any]) -> Any:
        raw = self.rc.services.expressions.render(
            node.config, scope, node_id=node.id, raw_fields=node_type.raw_fields
        )
        try:
            return node_type.Config.model_validate(raw)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(config)'}: {e['msg']}"
                for e in exc.errors()
            )
            raise NodeError(
                f"node {node.id!r}: invalid config: {problems}",
                code="config_invalid",
                node_id=node.id,
                retryable=False,
            ) from None

    def _finish(
        self, call: NodeCall, step: StepRecord, t0: float, outcome: Outcome, replayed: bool = False
    ) -> Outcome:
        rc = self.rc
        duration_ms = round((time.perf_counter() - t0) * 1000, 3)
        usage = outcome.usage or {}
        if usage:
            step = step.model_copy(update=usage)
        if outcome.status == "succeeded":
            done = replaced(
                step,
                {
                    "status": StepStatus.SUCCEEDED,
                    "output": outcome.output,
                    "route": outcome.route,
                    "error": None,
                    "finished_at": utcnow(),
                },
            )
            rc.record(
                done,
                EventType.NODE_SUCCEEDED,
                with_checkpoint=True,
                output=_preview(outcome.output),
                route=outcome.route,
                duration_ms=duration_ms,
                iteration=call.iteration,
                replayed=replayed,
                **usage,
            )
            return outcome
        failed = replaced(
            step, {"status": StepStatus.FAILED, "error": outcome.error, "finished_at": utcnow()}
        )
        rc.record(
            failed,
            EventType.NODE_FAILED,
            with_checkpoint=True,
            error=outcome.error,
            duration_ms=duration_ms,
            iteration=call.iteration,
            handled=call.handled,
            **usage,
        )
        rc.check_budget(call.node.id)  # a budget spent (here or in a child run) stops the run
        if not call.handled:
            raise NodeFailed(outcome.error or {})
        return outcome

    def skip(self, node: Node, iteration: str = "") -> None:
        now = utcnow()
        step = StepRecord(
            run_id=self.rc.run.id,
            node_id=node.id,
            iteration=iteration,
            status=StepStatus.SKIPPED,
            started_at=now,
            finished_at=now,
        )
        self.rc.record(step, EventType.NODE_SKIPPED, with_checkpoint=True, iteration=iteration)

    def _check_run_deadline(self, node_id: str) -> None:
        self.rc.check_budget(node_id)
        left = self.rc.remaining_s()
        if left is not None and left <= 0:
            raise RunTimeout(_run_timeout_error(node_id))

    def _retry_fits(self, delay: float, node_id: str) -> None:
        left_in_run = self.rc.remaining_s()
        if left_in_run is not None and left_in_run < delay:
            raise RunTimeout(_run_timeout_error(node_id))  # a retry would start past the deadline

    def _sleep(self, delay: float, node_id: str) -> None:
        self._retry_fits(delay, node_id)
        end = time.monotonic() + delay
        while True:
            self.rc.check_cancelled(force=True)
            left = end - time.monotonic()
            if left <= 0:
                return
            self.rc.services.sleep(min(left, self.rc.services.cancel_poll_s))


def _no_interrupt(request: dict[str, Any]) -> Any:
    raise NodeError(
        "this node cannot wait for a human here", code="interrupt_unavailable", retryable=False
    )


def _run_timeout_error(node_id: str) -> dict[str, Any]:
    return {
        "code": "run_timeout",
        "message": f"the run exceeded its time limit (at node {node_id!r})",
        "node_id": node_id,
        "type": "RunTimeout",
    }
