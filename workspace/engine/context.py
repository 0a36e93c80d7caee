"""The engine's implementation of the node SDK's :class:`~workspace.sdk.NodeContext`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pydantic

from workspace.domain.events import EventType
from workspace.domain.graph import RESERVED_NODE_IDS
from workspace.domain.ports import RunRepository
from workspace.engine.revision import scope_value as revision_scope
from workspace.engine.services import RunContext
from workspace.engine.tool_calls import tool_config, tool_schema
from workspace.errors import ExpressionError, NodeError, NodeTimeout, PlaitError, ValidationError
from workspace.expressions import MISSING, PathError, lookup_path
from workspace.sdk.context import LoopInfo
from workspace.sdk.memory import AgentMemory
from workspace.sdk.models import Attached, ChatModel, Conversation
from workspace.sdk.node import NodeResult
from workspace.sdk.platform import Platform
from workspace.sdk.search import SearchBackend
from workspace.sdk.signals import ControlSignal, Suspend

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
    *,
    revision: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    scope: dict[str, Any] = {k: v for k, v in outputs.items() if k not in RESERVED_NODE_IDS}
    scope.update(
        input=input,
        revision=revision_scope(revision),
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
        attached: tuple[Attached, ...] = (),
    ) -> None:
        self._rc = rc
        self._attached = attached
        self._tools_called = 0
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
        self._rc.emit_data(EventType(event_type), self.node_id, dict(data))

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

    # -- AI nodes ------------------------------------------------------------------------------

    def attached(self, kind: str) -> Sequence[Attached]:
        return [a for a in self._attached if a.kind == kind]

    def _fail(self, message: str, code: str) -> NodeError:
        return NodeError(message, code=code, node_id=self.node_id, retryable=False)

    def chat_model(self, spec: Any = None, *, streaming: bool = False) -> ChatModel:
        models = self._rc.services.models
        if models is None:
            raise self._fail("no LLM providers are configured in this engine", "no_models")
        if spec is None:
            llm = self.attached("llm")
            spec = self.render(llm[0].config, field="model") if llm else {"inherit": True}
        try:
            return models.chat(
                spec,
                workflow_id=self._rc.run.workflow_id,
                default=self._rc.settings.get("model"),
                streaming=streaming,
            )
        except ValidationError as exc:  # no model reachable, a bad spec: say it on this node
            raise self._fail(f"node {self.node_id!r}: {exc.message}", exc.code) from None
        except pydantic.ValidationError as exc:
            raise self._fail(f"node {self.node_id!r}: invalid model: {exc}", "bad_model") from None

    def _tool(self, node_id: str) -> Attached:
        tool = next((a for a in self.attached("tool") if a.node_id == node_id), None)
        if tool is None:
            raise self._fail(f"node {self.node_id!r} has no tool {node_id!r}", "unknown_tool")
        return tool

    def tool_spec(self, node_id: str) -> dict[str, Any]:
        """``{"name", "description", "parameters"}`` of an attached tool: its config schema
        without the fields its attachment already fixes (those are not the model's to set)."""
        tool = self._tool(node_id)
        return tool_schema(self._rc.services.registry.get(tool.type), tool)

    def call_tool(self, node_id: str, arguments: Mapping[str, Any]) -> Any:
        tool = self._tool(node_id)
        index = self._tools_called
        self._tools_called += 1
        node_type = self._rc.services.registry.get(tool.type)
        iteration = (
            f"{self.iteration}/{self.node_id}#{index}"
            if self.iteration
            else (f"{self.node_id}#{index}")
        )
        args = dict(arguments)
        self.emit(
            "tool_started",
            {"tool": tool.node_id, "type": tool.type, "call": index, "arguments": args},
        )
        started = time.monotonic()

        def invoke() -> Any:
            # the attachment's own config (templates rendered in this node's scope) wins over
            # the model's arguments; the model's strings are data, never rendered as templates
            fixed = self._rc.services.expressions.render(
                tool.config, self._scope, node_id=tool.node_id, raw_fields=node_type.raw_fields
            )
            config = tool_config(node_type, tool, args, fixed)
            ctx = EngineNodeContext(
                self._rc,
                node_id=tool.node_id,
                attempt=1,
                iteration=iteration,
                scope={**self._scope, "input": args},
                loop=self.loop,
                interrupt=self._interrupt,
                body_runner=None,
                timeout_s=self._timeout_s,
            )
            value = node_type.execute(ctx, config, args)
            if isinstance(value, NodeResult):
                return value.output
            return value if isinstance(value, dict) else {"output": value}

        try:
            if node_type.side_effects:
                output = self.journal(f"{self.idempotency_key}:tool#{index}", invoke)
            else:
                output = invoke()
        except (ControlSignal, NodeTimeout):
            raise
        except Exception as exc:
            error = (
                exc.to_dict()
                if isinstance(exc, PlaitError)
                else {"code": "exception", "message": str(exc) or type(exc).__name__}
            )
            self.emit(
                "tool_finished",
                {
                    "tool": tool.node_id,
                    "call": index,
                    "error": error,
                    "duration_ms": round((time.monotonic() - started) * 1000, 3),
                },
            )
            raise
        self.emit(
            "tool_finished",
            {
                "tool": tool.node_id,
                "call": index,
                "output": output,
                "duration_ms": round((time.monotonic() - started) * 1000, 3),
            },
        )
        return output

    def add_usage(self, input_tokens: int, output_tokens: int, cost: float | None) -> None:
        self._rc.add_usage(self.node_id, self.iteration, input_tokens + output_tokens, cost)

    @property
    def memory(self) -> AgentMemory:
        source = self._rc.services.memory
        if source is None:
            raise self._fail("long-term memory is not available in this engine", "no_memory_store")
        return source.open(self._rc.run, self.node_id)

    @property
    def web_search(self) -> SearchBackend:
        backend = self._rc.services.search
        if backend is None:
            raise self._fail(
                "no web search backend is configured (set PLAIT_TOOLS__SEARXNG_URL)",
                "no_search_backend",
            )
        return backend

    @property
    def platform(self) -> Platform:
        source = self._rc.services.platform
        if source is None:
            raise self._fail("the platform is not reachable from this engine", "no_platform")
        return source.open(self, self._rc.run, depth=self._rc.depth)

    def conversation(self) -> Conversation:
        store = self._rc.services.conversations
        if store is None:
            raise self._fail("conversation memory is not available in this engine", "no_memory")
        run = self._rc.run
        # thread = user + channel + workflow (SPEC §7); a run with no channel is its own thread
        return store.open(f"{run.workflow_slug}:{run.user or '-'}:{run.thread_id or run.id}")
