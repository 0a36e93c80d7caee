"""A small, real implementation of the NodeContext protocol for node tests, plus ``run_node``
which does what the engine does around ``execute`` (render non-raw config, validate, call)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from workspace.errors import ExpressionError
from workspace.expressions import MISSING, Expressions, lookup_path
from workspace.sdk import LoopInfo, NodeContext, NodeResult, NodeType
from workspace.sdk.signals import RunCancelled

T = TypeVar("T")

_EXPR = Expressions()

DEFAULT_LIMITS: dict[str, Any] = {
    "timeout_s": 30.0,
    "memory_mb": 512,
    "cpu_s": 30,
    "allow_network": False,
}


class FakeContext:
    """Scope, rendering and path lookup like the engine; scripted human answers; a journal;
    loop bodies and child workflows as Python callbacks; recorded timers and events."""

    def __init__(
        self,
        *,
        node_id: str = "node",
        run_id: str = "run1",
        workflow: str = "wf",
        trigger: Any = None,
        outputs: Mapping[str, Any] | None = None,
        input: Any = None,
        loop: LoopInfo | None = None,
        iteration: str = "",
        answers: list[Any] | None = None,
        limits: Mapping[str, Any] | None = None,
        loop_body: Callable[[LoopInfo], Any] | None = None,
        workflows: Mapping[str, Callable[[Any], Any]] | None = None,
        cancel_after: int | None = None,
        revision: Mapping[str, Any] | None = None,
    ) -> None:
        self.run_id = run_id
        self.node_id = node_id
        self.workflow = workflow
        self.attempt = 1
        self.iteration = iteration
        self.trigger = trigger if trigger is not None else {}
        self.outputs: Mapping[str, Any] = dict(outputs or {})
        self.input = input
        self.loop = loop
        self.answers = list(answers or [])
        self.requests: list[dict[str, Any]] = []
        self.journal_data: dict[str, Any] = {}
        self.waits: list[datetime] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.child_runs: list[tuple[str, Any]] = []
        self._limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self._loop_body = loop_body
        self._workflows = dict(workflows or {})
        self.cancel_after = cancel_after
        self.cancel_checks = 0
        self.cancelled = False
        self.revision = {"round": 0, "feedback": None, **(revision or {})}

    # -- protocol ---------------------------------------------------------------------------
    @property
    def idempotency_key(self) -> str:
        return f"{self.run_id}:{self.node_id}:{self.iteration}"

    @property
    def limits(self) -> Mapping[str, Any]:
        return self._limits

    def scope(self) -> dict[str, Any]:
        scope: dict[str, Any] = dict(self.outputs)
        scope.update(
            {
                "input": self.input,
                "trigger": self.trigger,
                "outputs": self.outputs,
                "node_outputs": self.outputs,
                "loop": self.loop.as_dict() if self.loop else None,
                "run": {"id": self.run_id, "workflow": self.workflow},
                "revision": self.revision,
            }
        )
        return scope

    def lookup(self, path: str) -> Any:
        value = lookup_path(self.scope(), path)
        if value is MISSING:
            raise ExpressionError(f"path {path!r} not found", node_id=self.node_id)
        return value

    def has_path(self, path: str) -> bool:
        return lookup_path(self.scope(), path) is not MISSING

    def render(self, value: Any, *, field: str) -> Any:
        return _EXPR.render(value, self.scope(), node_id=self.node_id, field=field)

    def emit(self, event_type: str, data: dict[str, Any]) -> None:
        self.events.append((event_type, data))

    def interrupt(self, request: dict[str, Any]) -> Any:
        self.requests.append(request)
        if not self.answers:
            raise AssertionError("no scripted answer left")
        return self.answers.pop(0)

    def wait_until(self, when: datetime) -> None:
        self.waits.append(when)

    def run_workflow(self, slug: str, payload: Any) -> Any:
        self.child_runs.append((slug, payload))
        return self._workflows[slug](payload)

    def run_loop_body(self, loop: LoopInfo) -> Any:
        assert self._loop_body is not None, "no loop body configured"
        return self._loop_body(loop)

    def journal(self, key: str, fn: Callable[[], T]) -> T:
        if key not in self.journal_data:
            self.journal_data[key] = fn()
        return self.journal_data[key]  # type: ignore[no-any-return]

    def check_cancelled(self) -> None:
        self.cancel_checks += 1
        if self.cancel_after is not None and self.cancel_checks > self.cancel_after:
            self.cancelled = True
        if self.cancelled:
            raise RunCancelled("cancelled")


def _check_protocol(ctx: FakeContext) -> NodeContext:
    return ctx  # mypy checks FakeContext against the protocol here


def run_node(
    node_type: type[NodeType],
    config: dict[str, Any],
    ctx: FakeContext | None = None,
    input: Any = None,
) -> NodeResult:
    """Render the config (except raw fields), validate it, execute, normalise the result."""
    ctx = ctx or FakeContext()
    if input is not None:
        ctx.input = input
    rendered = {
        k: v if k in node_type.raw_fields else ctx.render(v, field=k) for k, v in config.items()
    }
    cfg = node_type.Config.model_validate(rendered)
    result = node_type().execute(ctx, cfg, ctx.input)
    if isinstance(result, NodeResult):
        return result
    assert isinstance(result, dict)
    return NodeResult(output=result)
