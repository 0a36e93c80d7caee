"""Compiles a workflow topology into a LangGraph ``StateGraph``.

This is the ONLY module that knows both the Plait model and LangGraph types (SPEC §4.1). Each
scheduled Plait node becomes one LangGraph node whose function decides (run / skip / wait),
executes through :class:`NodeExecutor`, and returns a ``Command`` that triggers its successors only
when it finished. Per-run services travel in ``config["configurable"]["plait"]`` so one compiled
graph serves every run of a (version hash, trigger).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp
from langgraph.graph import START, StateGraph
from langgraph.types import Command, interrupt

from workspace.domain.graph import EdgeKind
from workspace.engine.activation import FAILED, SKIPPED, SUCCEEDED, Finished, decide, node_input
from workspace.engine.body import LoopBody
from workspace.engine.executor import NodeCall, NodeExecutor
from workspace.engine.services import RunContext
from workspace.engine.state import RunState
from workspace.engine.topology import Topology
from workspace.sdk.signals import HumanInterrupt, Suspend

RC_KEY = "plait"


ANSWER_PREFIX = "answer:"


def ask_human(rc: RunContext, request: dict[str, Any]) -> Any:
    """Pause for a human until the answer to ``request["key"]`` is in the run's journal.

    Answers are journaled by key (``{run}:{node}:{iteration}#{n}``) before the run resumes, and
    read back from there: LangGraph's interrupt only parks and wakes the run, its resume values
    (matched by call order) are never trusted. That keeps answers with their questions when a
    node re-executes, in loops (parallel ones too) and across sub-workflows. LangGraph's
    interrupt is wrapped so node code catching ``Exception`` cannot swallow it.
    """
    key = f"{ANSWER_PREFIX}{request['key']}"
    while True:
        hit = rc.services.runs.journal_get(rc.run.id, key)
        if hit is not None:
            return hit["value"]
        try:
            interrupt(request)
        except GraphBubbleUp as exc:
            raise HumanInterrupt(exc) from None


#: ``kind`` of a pending interrupt that is a durable timer, not a question for a human
TIMER_KIND = "timer"


def park(signal: Suspend) -> None:
    """Park the run at its checkpoint until ``signal.resume_at`` (a LangGraph interrupt whose
    value is a timer, not a question). Returns only if this interrupt was already resumed in
    the current execution of the node (the node parked again after a wake-up): the caller
    executes the node once more, which then parks under the next interrupt."""
    interrupt(
        {
            "kind": TIMER_KIND,
            "reason": signal.reason,
            "key": signal.key,
            "node_id": signal.node_id,
            "iteration": signal.iteration,
            "until": signal.resume_at.isoformat(),
            **signal.detail,
        }
    )


@dataclass(frozen=True)
class CompiledFlow:
    topology: Topology
    app: Any  # langgraph CompiledStateGraph


def _view(
    nodes: dict[str, dict[str, Any]], sources: tuple[str, ...]
) -> tuple[Finished, dict[str, Any]]:
    """What one node needs to know of the finished ones: every output (its expressions may read
    any node), and status, route and error of its own incoming sources only."""
    outputs = {n: f["output"] for n, f in nodes.items() if "output" in f}
    status: dict[str, str] = {}
    routes: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for source in sources:
        fact = nodes.get(source)
        if fact is None:
            continue
        status[source] = fact["status"]
        if "output" in fact:
            routes[source] = fact.get("route")
        if "error" in fact:
            errors[source] = fact["error"]
    return Finished(status, routes, outputs, errors), outputs


def _node_function(topology: Topology, node_id: str) -> Callable[[RunState, RunnableConfig], Any]:
    scope = topology.main
    node = topology.nodes[node_id]
    attached = topology.attached(node_id)
    incoming = scope.incoming[node_id]
    successors = list(scope.successors[node_id])
    handled = any(e.kind == EdgeKind.ERROR for e in topology.graph.outgoing(node_id))
    is_loop = node_id in topology.loops
    sources = tuple(dict.fromkeys(e.source for e in incoming))

    def run_node(state: RunState, config: RunnableConfig) -> Any:
        rc: RunContext = config["configurable"][RC_KEY]
        nodes = state.get("Nodes") or {}
        if node_id in nodes:
            return {}
        view, outputs = _view(nodes, sources)
        forced = node_id in (state.get("Force") or ())
        decision = "run" if forced else decide(node, incoming, view)
        if decision == "wait":
            return {}
        step = int(config.get("metadata", {}).get("langgraph_step", 0))
        executor = NodeExecutor(rc)
        if decision == "skip":
            executor.skip(node)
            return Command(
                update={"Nodes": {node_id: {"status": SKIPPED, "step": step}}}, goto=successors
            )
        overrides = state.get("Overrides") or {}
        value = overrides[node_id] if node_id in overrides else node_input(incoming, view)
        trigger = state.get("Trigger")
        ask = partial(ask_human, rc)
        body = (
            LoopBody(
                executor,
                topology,
                node_id,
                outputs=outputs,
                trigger=trigger,
                iteration="",
                interrupt=ask,
            )
            if is_loop
            else None
        )
        call = NodeCall(
            node=node,
            input=value,
            outputs=outputs,
            trigger=trigger,
            handled=handled,
            interrupt=ask,
            body_runner=body,
            attached=attached,
        )
        while True:
            try:
                outcome = executor.run(call)
                break
            except HumanInterrupt as signal:
                raise signal.inner from None
            except Suspend as signal:
                park(signal)
        if outcome.status == SUCCEEDED:
            fact = {
                "status": SUCCEEDED,
                "step": step,
                "output": outcome.output,
                "route": outcome.route,
            }
        else:
            fact = {"status": FAILED, "step": step, "error": outcome.error}
        return Command(update={"Nodes": {node_id: fact}}, goto=successors)

    run_node.__name__ = f"plait_{node_id}"
    return run_node


def compile_flow(topology: Topology, checkpointer: Any, *, entries: bool = False) -> CompiledFlow:
    """The flow of ``topology``: it starts at the trigger or, with ``entries``, at the node the
    state's ``Entry`` names (re-runs; a routing function at START costs every run a little, so
    plain runs get a fixed edge)."""
    builder: StateGraph[RunState, Any, RunState, RunState] = StateGraph(RunState)
    for node_id in topology.main.nodes:
        builder.add_node(
            node_id,
            _node_function(topology, node_id),  # type: ignore[call-overload, arg-type, unused-ignore]
            destinations=topology.main.successors[node_id],
        )
    trigger_id = topology.trigger_id
    if entries:

        def entry(state: RunState) -> str:
            return state.get("Entry") or trigger_id

        builder.add_conditional_edges(START, entry, list(topology.main.nodes))
    else:
        builder.add_edge(START, trigger_id)
    return CompiledFlow(topology=topology, app=builder.compile(checkpointer=checkpointer))
