"""Compiles a workflow topology into a LangGraph ``StateGraph``.

This is the ONLY module that knows both the Plait model and LangGraph types (SPEC §4.1). Each
scheduled Plait node becomes one LangGraph node whose function decides (run / skip / wait),
executes through :class:`NodeExecutor`, and returns a ``Command`` that triggers its successors only
when it finished. Per-run services travel in ``config["configurable"]["plait"]`` so one compiled
graph serves every run of a (version hash, trigger).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp
from langgraph.graph import START, StateGraph
from langgraph.types import Command, interrupt

from workspace.domain.events import EventType
from workspace.domain.graph import EdgeKind
from workspace.engine.activation import FAILED, SKIPPED, SUCCEEDED, Finished, decide, node_input
from workspace.engine.body import LoopBody
from workspace.engine.executor import NodeCall, NodeExecutor, Outcome
from workspace.engine.revision import iteration_of, next_round
from workspace.engine.services import RunContext
from workspace.engine.state import RunState
from workspace.engine.topology import Topology
from workspace.sdk.node import RevisionRequest
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


def _execute(executor: NodeExecutor, call: NodeCall) -> Outcome:
    """Execute one node, turning its pauses into LangGraph interrupts."""
    while True:
        try:
            return executor.run(call)
        except HumanInterrupt as signal:
            raise signal.inner from None
        except Suspend as signal:
            park(signal)


def _fact(outcome: Outcome, step: int) -> dict[str, Any]:
    if outcome.status == SUCCEEDED:
        return {"status": SUCCEEDED, "step": step, "output": outcome.output, "route": outcome.route}
    return {"status": FAILED, "step": step, "error": outcome.error}


def _node_function(
    topology: Topology, node_id: str, goto: list[str] | None = None
) -> Callable[[RunState, RunnableConfig], Any]:
    scope = topology.main
    node = topology.nodes[node_id]
    attached = topology.attached(node_id)
    incoming = scope.incoming[node_id]
    successors = goto if goto is not None else list(scope.successors[node_id])
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
        revisions = state.get("Revisions") or {}
        revision = revisions.get(node_id)
        iteration = iteration_of(revision)
        executor = NodeExecutor(rc)
        gate = None if revision else (state.get("Gates") or {}).get(node_id)
        if decision == "skip":
            if gate is None:  # (a start gate's step keeps the approval it recorded)
                executor.skip(node, iteration)
            return Command(
                update={"Nodes": {node_id: {"status": SKIPPED, "step": step}}}, goto=successors
            )
        if gate is not None:
            # answered before the run started (approve_to_start): its step is recorded
            fact = {"status": SUCCEEDED, "step": step, "output": gate["output"]}
            return Command(
                update={"Nodes": {node_id: {**fact, "route": gate["route"]}}}, goto=successors
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
                iteration=iteration,
                interrupt=ask,
                revision=revision,
            )
            if is_loop
            else None
        )
        call = NodeCall(
            node=node,
            input=value,
            outputs=outputs,
            trigger=trigger,
            iteration=iteration,
            handled=handled,
            interrupt=ask,
            body_runner=body,
            attached=attached,
            revision=revision,
        )
        outcome = _execute(executor, call)
        if outcome.revision is not None:
            return _revise(rc, topology, node_id, outcome.revision, state)
        return Command(update={"Nodes": {node_id: _fact(outcome, step)}}, goto=successors)

    run_node.__name__ = f"plait_{node_id}"
    return run_node


def _revise(
    rc: RunContext,
    topology: Topology,
    node_id: str,
    request: dict[str, Any],
    state: RunState,
) -> Command[Any]:
    """Start a revision round: the region's facts are cleared, its rounds go up, its target
    runs again (forced: it ran before, so its incoming branches are live)."""
    revision = RevisionRequest(**request)
    entries = next_round(topology, node_id, revision, state.get("Revisions") or {})
    # stored with this node's checkpoint writes: a re-execution cannot announce it twice
    rc.emit_with_checkpoint(
        EventType.REVISION_REQUESTED,
        node_id,
        target=revision.target,
        round=entries[revision.target]["round"],
        feedback=revision.feedback,
        answered_by=revision.answered_by,
        nodes=list(entries),
    )
    forced = [*(state.get("Force") or ()), revision.target]
    return Command(
        update={
            "Nodes": dict.fromkeys(entries),
            "Revisions": entries,
            "Force": list(dict.fromkeys(forced)),
        },
        goto=[revision.target],
    )


def gate_name(node_id: str) -> str:
    """The LangGraph node asking ``node_id``'s start question (not a valid node id)."""
    return f"Gate[{node_id}]"


def _gate_function(
    topology: Topology, node_id: str, passes: str, after: list[str]
) -> Callable[[RunState, RunnableConfig], Any]:
    """A start gate (``approve_to_start``): runs ``node_id`` right after the trigger, before
    any other node; the run goes on to ``after`` when its result takes route ``passes``, else
    it ends (the runner finishes it ``cancelled``). The node's step records the answer; when
    the flow reaches the node it takes this result without asking again."""
    node = topology.nodes[node_id]
    trigger_id = topology.trigger_id

    def run_gate(state: RunState, config: RunnableConfig) -> Any:
        rc: RunContext = config["configurable"][RC_KEY]
        started = (state.get("Nodes") or {}).get(trigger_id) or {}
        payload = started.get("output")
        call = NodeCall(
            node=node,
            input=payload,
            outputs={trigger_id: payload},
            trigger=state.get("Trigger"),
            interrupt=partial(ask_human, rc),
            attached=topology.attached(node_id),
        )
        outcome = _execute(NodeExecutor(rc), call)
        passed = outcome.status == SUCCEEDED and outcome.route == passes
        gate = {"output": outcome.output, "route": outcome.route, "passed": passed}
        return Command(update={"Gates": {node_id: gate}}, goto=after if passed else [])

    run_gate.__name__ = f"plait_gate_{node_id}"
    return run_gate


def compile_flow(
    topology: Topology,
    checkpointer: Any,
    *,
    entries: bool = False,
    gates: Sequence[tuple[str, str]] = (),
) -> CompiledFlow:
    """The flow of ``topology``: it starts at the trigger or, with ``entries``, at the node the
    state's ``Entry`` names (re-runs; a routing function at START costs every run a little, so
    plain runs get a fixed edge). ``gates`` — (node id, passing route) of the start gates —
    are asked one after the other between the trigger and its successors."""
    builder: StateGraph[RunState, Any, RunState, RunState] = StateGraph(RunState)
    trigger_id = topology.trigger_id
    chain = [gate_name(n) for n, _ in gates]
    for node_id in topology.main.nodes:
        goto = chain[:1] if chain and node_id == trigger_id else None
        builder.add_node(
            node_id,
            _node_function(topology, node_id, goto),  # type: ignore[call-overload, arg-type, unused-ignore]
            destinations=tuple(goto) if goto else topology.main.successors[node_id],
        )
    for i, (node_id, passes) in enumerate(gates):
        after = chain[i + 1 : i + 2] or list(topology.main.successors[trigger_id])
        builder.add_node(
            chain[i],
            _gate_function(topology, node_id, passes, after),  # type: ignore[call-overload, arg-type, unused-ignore]
            destinations=tuple(after),
        )
    if entries:

        def entry(state: RunState) -> str:
            return state.get("Entry") or trigger_id

        builder.add_conditional_edges(START, entry, list(topology.main.nodes))
    else:
        builder.add_edge(START, trigger_id)
    return CompiledFlow(topology=topology, app=builder.compile(checkpointer=checkpointer))
