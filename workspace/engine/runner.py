"""Executes runs: compiles (cached), invokes with the checkpointer, and turns what LangGraph
returns into run status transitions and events. Status changes go through the run repository's
``transition`` (the one state machine, SPEC §4.6)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import datetime
from typing import Any

import pydantic
from langgraph.types import Command

from workspace.domain.events import Event, EventType, run_event
from workspace.domain.graph import WorkflowGraph
from workspace.domain.run import Run, RunStatus
from workspace.domain.usage import Budget, Usage
from workspace.domain.workflow import utcnow
from workspace.engine.compiler import (
    ANSWER_PREFIX,
    RC_KEY,
    CompiledFlow,
    compile_flow,
)
from workspace.engine.failures import NodeFailed
from workspace.engine.gates import start_gates
from workspace.engine.ledger import Ledger
from workspace.engine.output import run_output
from workspace.engine.pending import due_timers, next_wake, pending_of, waiting_step
from workspace.engine.services import EngineServices, RunContext
from workspace.engine.topology import build_topology
from workspace.errors import ConflictError, InvalidTransition, NotFoundError, ValidationError
from workspace.sdk.signals import RunCancelled, RunPaused

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, services: EngineServices, checkpointer: Any, cache_size: int = 256) -> None:
        self.services = services
        self.checkpointer = checkpointer
        self._cache: OrderedDict[tuple[str, str, bool], CompiledFlow] = OrderedDict()
        self._cache_size = cache_size

    # -- compilation -------------------------------------------------------------------------

    def flow(
        self,
        graph: WorkflowGraph,
        trigger_id: str,
        version_hash: str | None = None,
        *,
        entries: bool = False,
    ) -> CompiledFlow:
        """The compiled flow (cached); with ``entries`` the variant re-runs use, which starts
        at the node the state names."""
        key = (version_hash or graph.content_hash(), trigger_id, entries)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        topology = build_topology(graph, trigger_id)
        gates = start_gates(topology, self.services.registry)
        flow = compile_flow(topology, self.checkpointer, entries=entries, gates=gates)
        self._cache[key] = flow
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return flow

    # -- entry points ------------------------------------------------------------------------

    def create(self, run: Run) -> Run:
        """Store a new (queued) run together with its ``run_queued`` event: one transaction."""
        event = run_event(run, EventType.RUN_QUEUED, trigger=run.trigger_id)
        return self.services.recorder.create(run, [event])

    def start(
        self, run: Run, graph: WorkflowGraph, *, seed: dict[str, Any] | None = None, depth: int = 0
    ) -> Run:
        """Run a queued run from its trigger (or, with ``seed``, from a re-run entry node)."""
        flow = self._flow(run, graph, rerun=seed is not None)
        if run.status != RunStatus.RUNNING:  # a run created as running is started already
            run = self.services.runs.transition(run.id, RunStatus.RUNNING, started_at=utcnow())
        rc = self._context(run, graph, depth)
        rc.emit_with_checkpoint(EventType.RUN_STARTED, trigger=run.trigger_id)
        state: dict[str, Any] = {"Trigger": run.input}
        state.update(seed or {})
        return self._drive(rc, flow, state, graph)

    def resume(self, run: Run, graph: WorkflowGraph, *, depth: int = 0) -> Run:
        """Continue a waiting run whose open requests have (some) answers in the journal, or
        whose timers are due.

        Raises InvalidTransition if the run is no longer waiting (someone else resumed it).
        """
        flow = self._flow(run, graph)
        answered = self.answered(run)
        timers = self.due_timers(run)
        # the wake time goes with the status: open deadlines are set again when it next waits
        run = self.services.runs.transition(run.id, RunStatus.RUNNING, wake_at=None)
        rc = self._context(run, graph, depth)
        data: dict[str, Any] = {"answered": sorted(r["node_id"] or "" for r in answered)}
        if timers:
            data["timers"] = sorted(t["node_id"] or "" for t in timers)
        rc.emit(EventType.RUN_RESUMED, **data)
        wake = {r["interrupt_id"]: True for r in [*answered, *timers]}
        return self._drive(rc, flow, Command(resume=wake or None), graph)

    def answered(self, run: Run) -> list[dict[str, Any]]:
        """The run's open requests whose answer is already journaled."""
        runs = self.services.runs
        return [
            r
            for r in (run.pending or {}).get("requests", [])
            if runs.journal_get(run.id, ANSWER_PREFIX + r["key"]) is not None
        ]

    def due_timers(self, run: Run) -> list[dict[str, Any]]:
        """The run's timers (wait deadlines, delayed retries) whose time has come."""
        return due_timers(run.pending)

    def ready(self, run: Run) -> bool:
        """Whether the waiting run can continue now (an answer is in, or a timer is due)."""
        return bool(self.due_timers(run) or self.answered(run))

    def recover(self, run: Run, graph: WorkflowGraph, *, depth: int = 0) -> Run:
        """Continue a run interrupted by a crash from its last checkpoint."""
        if run.status == RunStatus.QUEUED:
            return self.start(run, graph, depth=depth)
        if run.status == RunStatus.PAUSED:
            run = self.services.runs.transition(run.id, RunStatus.RUNNING)
        elif run.status != RunStatus.RUNNING:
            raise ConflictError(
                f"run {run.id} is {run.status.value}; only running, queued or "
                "paused runs can be recovered",
                code="not_recoverable",
            )
        flow = self._flow(run, graph)
        rc = self._context(run, graph, depth)
        snapshot = flow.app.get_state(self._config(rc))
        if not snapshot.values:  # crashed before the first checkpoint
            rc.emit(EventType.RUN_STARTED, trigger=run.trigger_id, recovered=True)
            return self._drive(rc, flow, {"Trigger": run.input}, graph)
        rc.emit(EventType.RUN_RESUMED, recovered=True)
        return self._drive(rc, flow, None, graph)

    def rerun_seed(
        self, old: Run, graph: WorkflowGraph, from_node: str, input: Any = None
    ) -> dict[str, Any]:
        """The starting state of a re-run of ``old`` from ``from_node`` (SPEC §4.6): what ran
        upstream is reused from ``old``'s last checkpoint; ``from_node`` and everything after
        it run again (``from_node`` with ``input`` when given)."""
        flow = self._flow(old, graph)
        topology = flow.topology
        if from_node not in topology.main.incoming:
            raise NotFoundError(
                f"node {from_node!r} is not on the path of trigger {old.trigger_id!r} "
                "(nodes inside loop bodies re-run with their loop)",
                code="unknown_node",
            )
        downstream = _descendants(topology.main.successors, from_node)
        snap = flow.app.get_state({"configurable": {"thread_id": old.id}})
        final = dict(snap.values or {})
        reused = {n: f for n, f in (final.get("Nodes") or {}).items() if n not in downstream}
        # reused nodes finished "before" anything the new run executes (its steps count from 0)
        offset = max((f.get("step", 0) for f in reused.values()), default=0) + 1
        seed: dict[str, Any] = {
            "Nodes": {n: {**f, "step": f.get("step", 0) - offset} for n, f in reused.items()},
            "Entry": from_node,
            "Force": [from_node],
        }
        if input is not None:
            seed["Overrides"] = {from_node: input}
        return seed

    # -- internals ---------------------------------------------------------------------------

    def _flow(self, run: Run, graph: WorkflowGraph, *, rerun: bool = False) -> CompiledFlow:
        """The flow a run executes on: a re-run's starts at its entry node (same channels)."""
        entries = rerun or run.rerun_from_node is not None
        return self.flow(graph, run.trigger_id, run.version_hash, entries=entries)

    def _context(self, run: Run, graph: WorkflowGraph, depth: int) -> RunContext:
        deadline = None
        timeout = graph.settings.get("timeout_s") or self.services.default_run_timeout_s
        if timeout and run.started_at is not None:
            deadline = run.started_at.timestamp() + float(timeout)
        return RunContext(
            run=run,
            services=self.services,
            deadline=deadline,
            depth=depth,
            settings=graph.settings,
            ledger=self._ledger(run, graph),
        )

    def _ledger(self, run: Run, graph: WorkflowGraph) -> Ledger:
        """The run's ledger: its budget, what it spent before (a resumed run), what the
        workflow's other runs spent today, and its parent run's ledger (children count for
        their parents)."""
        raw = graph.settings.get("budget")
        budget = None
        if raw is not None:
            try:
                budget = Budget.model_validate(raw)
            except pydantic.ValidationError as exc:
                raise ValidationError(
                    f"invalid budget {raw!r}: {exc.errors()[0]['msg']}", code="bad_budget"
                ) from None
        runs = self.services.runs
        ledger = Ledger(budget=budget, parent=self.services.ledgers.get(run.parent_run_id or ""))
        if budget is not None:
            ledger.spent = runs.usage(run_ids=[run.id])
            if budget.workflow_usd_per_day is not None:
                today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
                all_today = runs.usage(workflow_id=run.workflow_id, since=today)
                ledger.workflow_today = Usage(
                    all_today.tokens - ledger.spent.tokens,
                    all_today.cost - ledger.spent.cost,
                    all_today.unpriced - ledger.spent.unpriced,
                )
        self.services.ledgers[run.id] = ledger
        return ledger

    def _config(self, rc: RunContext) -> dict[str, Any]:
        return {"configurable": {"thread_id": rc.run.id, RC_KEY: rc}, "recursion_limit": 10_000}

    def _flush_writes(self, run_id: str) -> None:
        flush = getattr(self.checkpointer, "flush_writes", None)  # SqlCheckpointSaver's
        if flush is not None:
            flush(run_id)

    def _drive(self, rc: RunContext, flow: CompiledFlow, payload: Any, graph: WorkflowGraph) -> Run:
        try:
            return self._invoke(rc, flow, payload, graph)
        finally:
            self.services.stop_requests.pop(rc.run.id, None)
            self.services.ledgers.pop(rc.run.id, None)
            self.services.recorder.flush(rc.run.id)

    def _invoke(
        self, rc: RunContext, flow: CompiledFlow, payload: Any, graph: WorkflowGraph
    ) -> Run:
        runs = self.services.runs
        durability = graph.settings.get("durability", "sync")
        try:
            try:
                result = flow.app.invoke(payload, self._config(rc), durability=durability)
            finally:  # a stable point: the task writes still held back are stored now
                self._flush_writes(rc.run.id)
        except NodeFailed as exc:
            return self._fail(rc, exc.error)
        except (RunCancelled, RunPaused):
            return runs.get(rc.run.id)
        except Exception as exc:
            # anything else (an uninstalled node type, a bug, the database going away) must not
            # leave the run `running`: record it as failed if the store still answers
            error = {
                "code": getattr(exc, "code", "internal_error"),
                "message": f"{type(exc).__name__}: {exc}",
                "type": type(exc).__name__,
            }
            try:
                return self._fail(rc, error)
            except Exception:
                raise exc from None
        interrupts = result.get("__interrupt__") or []
        if interrupts:
            return self._wait(rc, interrupts, graph)
        refused = next((n for n, g in (result.get("Gates") or {}).items() if not g["passed"]), None)
        if refused is not None:
            return self._refused(rc, refused, result["Gates"][refused])
        output = run_output(flow.topology, result)
        finished = utcnow()
        try:
            # the final status and its event in one transaction
            return rc.finish(
                RunStatus.SUCCEEDED,
                EventType.RUN_SUCCEEDED,
                {"output": output, "duration_ms": _duration_ms(rc.run.started_at, finished)},
                output=output,
                finished_at=finished,
                pending=None,
            )
        except InvalidTransition:
            return runs.get(rc.run.id)  # cancelled while its last step ran: cancel wins

    def _refused(self, rc: RunContext, node_id: str, gate: dict[str, Any]) -> Run:
        """A start gate was not approved: nothing ran, nothing failed — the run is
        ``cancelled`` by that decision (its output is the answer)."""
        answer = gate["output"]
        data = {
            "reason": "not_approved_to_start",
            "node_id": node_id,
            "route": gate["route"],
            "answer": answer,
        }
        try:
            return rc.finish(
                RunStatus.CANCELLED,
                EventType.RUN_CANCELLED,
                data,
                output=answer,
                finished_at=utcnow(),
                pending=None,
            )
        except InvalidTransition:
            return self.services.runs.get(rc.run.id)  # already final (cancelled meanwhile)

    def _fail(self, rc: RunContext, error: dict[str, Any]) -> Run:
        hook = self.services.failure_hook
        created: list[tuple[Run, Event]] = []
        if hook is not None:
            try:
                created = hook.runs_for(rc.run, error)
            except Exception:  # the failure itself must be stored all the same
                log.exception("failure hook of run %s failed; no runs started", rc.run.id)
        try:
            run = rc.finish(
                RunStatus.FAILED,
                EventType.RUN_FAILED,
                {"error": error, "node_id_failed": error.get("node_id")},
                created=created,
                error=error,
                finished_at=utcnow(),
                pending=None,
            )
        except InvalidTransition:
            return self.services.runs.get(rc.run.id)  # already final (cancelled meanwhile)
        if hook is not None and created:
            try:
                hook.stored([r for r, _ in created])
            except Exception:  # they are stored and queued: the sweeper hands them over
                log.exception("could not start the runs of run %s's failure", rc.run.id)
        return run

    def _wait(self, rc: RunContext, interrupts: list[Any], graph: WorkflowGraph) -> Run:
        runs = self.services.runs
        previous = {r["key"]: r for r in (rc.run.pending or {}).get("requests", [])}
        pending = pending_of(interrupts, previous)
        requests, timers = pending["requests"], pending["timers"]
        # a child run has no wake time of its own: its questions (with their deadlines) are
        # its parent's to time out, and it never parks on a timer (it sleeps)
        wake_at = next_wake(pending) if rc.run.parent_run_id is None else None
        try:
            run = runs.transition(rc.run.id, RunStatus.WAITING, pending=pending, wake_at=wake_at)
        except InvalidTransition:
            return runs.get(rc.run.id)
        for req in requests:
            node_id = req["node_id"]
            if node_id:  # (re)state the step: a re-executed node had recorded itself running
                extra = {"deadline": req["deadline"]} if req["deadline"] else {}
                rc.record(
                    waiting_step(run, node_id, req["iteration"]),
                    EventType.NODE_WAITING,
                    iteration=req["iteration"],
                    **extra,
                )
            if req["key"] not in previous:
                rc.emit(
                    EventType.HUMAN_REQUESTED,
                    node_id,
                    request=req["request"],
                    token=req["token"],
                    key=req["key"],
                )
        for timer in timers:
            # a parked retry keeps its `retrying` step (its node_retrying event says until when)
            if timer["reason"] == "wait" and timer["node_id"]:
                rc.record(
                    waiting_step(run, timer["node_id"], timer["iteration"]),
                    EventType.NODE_WAITING,
                    iteration=timer["iteration"],
                    until=timer["until"],
                    timer=True,
                )
        # an answer that arrived while the run was still busy (or a timer already due) is
        # picked up now
        if self.ready(run):
            try:
                return self.resume(run, graph, depth=rc.depth)
            except InvalidTransition:
                return runs.get(run.id)  # whoever answered resumed it first
        return run


def _duration_ms(started: datetime | None, finished: datetime) -> float | None:
    if started is None:
        return None
    return round((finished - started).total_seconds() * 1000, 3)


def _descendants(successors: dict[str, tuple[str, ...]], start: str) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for nxt in successors.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen
