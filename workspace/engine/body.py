"""Runs one iteration of a loop body inline, inside the loop node (SPEC §4.4).

Body nodes are scheduled in topological order with the same activation rules as the main flow.
Every body step is journaled under its idempotency key so a loop node that re-executes (after a
human answered inside the body, or after a crash) does not redo finished iterations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workspace.domain.graph import EdgeKind
from workspace.engine.activation import FAILED, SKIPPED, SUCCEEDED, Finished, decide, node_input
from workspace.engine.executor import NodeCall, NodeExecutor
from workspace.engine.failures import NodeFailed
from workspace.engine.topology import Topology
from workspace.errors import NodeError
from workspace.sdk.context import LoopInfo


class LoopBody:
    def __init__(
        self,
        executor: NodeExecutor,
        topology: Topology,
        loop_id: str,
        *,
        outputs: dict[str, Any],
        trigger: Any,
        iteration: str,
        interrupt: Callable[[dict[str, Any]], Any],
        revision: dict[str, Any] | None = None,
    ) -> None:
        self.executor = executor
        self.topology = topology
        self.scope = topology.scope_of_loop(loop_id)
        self.loop_id = loop_id
        self.outputs = outputs
        self.trigger = trigger
        self.parent_iteration = iteration
        self.interrupt = interrupt
        #: the revision round of the loop node: its body nodes see it too
        self.revision = revision
        self.order = self.scope.topological()

    def __call__(self, loop: LoopInfo) -> Any:
        prefix = f"{self.parent_iteration}/" if self.parent_iteration else ""
        iteration = f"{prefix}{self.loop_id}[{loop.index}]"
        outputs = dict(self.outputs)
        status: dict[str, str] = {}
        routes: dict[str, str | None] = {}
        errors: dict[str, Any] = {}
        nodes = self.topology.nodes
        last: str | None = None
        for node_id in self.order:
            node = nodes[node_id]
            incoming = self.scope.incoming[node_id]
            view = Finished(status, routes, outputs, errors)
            if node_id in self.scope.entries and not incoming:
                decision, value = "run", loop.item
            else:
                decision = decide(node, incoming, view)
                value = node_input(incoming, view) if decision == "run" else None
                if node_id in self.scope.entries and decision == "run":
                    value = {"item": loop.item, **({"inputs": value} if value else {})}
            if decision != "run":
                self.executor.skip(node, iteration)
                status[node_id] = SKIPPED
                continue
            handled = any(e.kind == EdgeKind.ERROR for e in self.topology.graph.outgoing(node_id))
            sub = (
                LoopBody(
                    self.executor,
                    self.topology,
                    node_id,
                    outputs=outputs,
                    trigger=self.trigger,
                    iteration=iteration,
                    interrupt=self.interrupt,
                    revision=self.revision,
                )
                if node_id in self.topology.loops
                else None
            )
            try:
                outcome = self.executor.run(
                    NodeCall(
                        node=node,
                        input=value,
                        outputs=outputs,
                        trigger=self.trigger,
                        iteration=iteration,
                        loop=loop,
                        handled=handled,
                        memoize=True,
                        interrupt=self.interrupt,
                        body_runner=sub,
                        attached=self.topology.attached(node_id),
                        revision=self.revision,
                    )
                )
            except NodeFailed as exc:
                raise NodeError(
                    f"loop {self.loop_id!r} item {loop.index}: {exc.error.get('message')}",
                    code=exc.error.get("code", "loop_body_failed"),
                    node_id=self.loop_id,
                    failed_node=node_id,
                    index=loop.index,
                ) from None
            if outcome.revision is not None:
                raise NodeError(
                    f"loop {self.loop_id!r}: node {node_id!r} asked for a revision round; "
                    "revisions run in the main flow only, not inside loop bodies",
                    code="bad_revision_target",
                    node_id=self.loop_id,
                    failed_node=node_id,
                    retryable=False,
                )
            if outcome.status == SUCCEEDED:
                status[node_id] = SUCCEEDED
                outputs[node_id] = outcome.output
                routes[node_id] = outcome.route
                last = node_id
            else:
                status[node_id] = FAILED
                errors[node_id] = outcome.error
        returns = [r for r in self.scope.returns if status.get(r) == SUCCEEDED]
        if returns:
            return _unwrap(outputs[returns[-1]])
        return _unwrap(outputs[last]) if last else None


def _unwrap(output: Any) -> Any:
    """A body result of ``{"output": v}`` is ``v``; other dicts are kept whole."""
    if isinstance(output, dict) and set(output) == {"output"}:
        return output["output"]
    return output
