"""What the engine needs from the outside, bundled per engine and per run.

The runtime (composition root) builds these from a store and settings; the engine only sees the
ports from :mod:`workspace.domain.ports`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from workspace.domain.copies import replaced
from workspace.domain.events import Event, EventType
from workspace.domain.ports import EventSink, RunRepository
from workspace.domain.run import Run, RunStatus, StepRecord, StepStatus
from workspace.domain.workflow import utcnow
from workspace.engine.failures import BudgetExceeded
from workspace.engine.ledger import Ledger
from workspace.engine.recorder import StepRecorder
from workspace.expressions import Expressions
from workspace.sdk.memory import MemorySource
from workspace.sdk.models import Conversation, ModelSource
from workspace.sdk.platform import PlatformSource
from workspace.sdk.registry import NodeRegistry
from workspace.sdk.search import SearchBackend
from workspace.sdk.signals import AttemptAbandoned, RunCancelled, RunPaused

#: set in a node attempt's thread; once the attempt timed out, its flag is set and the next
#: ``check_cancelled`` in that thread (or in loop bodies and child runs it drives) raises
ABANDONED: ContextVar[threading.Event | None] = ContextVar("plait_abandoned", default=None)


class ChildRunner(Protocol):
    """Runs a sub-workflow for a parent node (implemented by the runtime)."""

    def __call__(
        self,
        parent: RunContext,
        node_id: str,
        key: str,
        slug: str,
        payload: Any,
        ask: Callable[[dict[str, Any]], Any],
    ) -> Any: ...


class FailureHook(Protocol):
    """What happens when a run fails (implemented by the runtime: error triggers).

    ``runs_for`` returns queued runs (each with its ``run_queued`` event) stored in the SAME
    transaction as the failure, so they exist exactly once per failed run; ``stored`` is told
    about them after that commit (to hand them to the workers)."""

    def runs_for(self, run: Run, error: dict[str, Any]) -> list[tuple[Run, Event]]: ...

    def stored(self, runs: list[Run]) -> None: ...


class ConversationStore(Protocol):
    def open(self, thread: str) -> Conversation: ...


@dataclass
class EngineServices:
    """Long-lived collaborators shared by every run an engine executes."""

    registry: NodeRegistry
    runs: RunRepository
    sink: EventSink
    expressions: Expressions = field(default_factory=Expressions)
    limits: Mapping[str, Any] = field(default_factory=dict)
    child_runner: ChildRunner | None = None
    failure_hook: FailureHook | None = None
    #: LLM clients for AI nodes (the runtime's model service); None: no AI in this engine
    models: ModelSource | None = None
    #: conversation threads (agent memory); None: conversations are not kept
    conversations: ConversationStore | None = None
    #: long-term memory of nodes (facts, episodes, identities); None: not available
    memory: MemorySource | None = None
    #: web search for ``web_search`` nodes (settings ``tools.searxng_url``); None: none
    search: SearchBackend | None = None
    #: Plait itself for self-awareness tools (the runtime's PlatformService); None: none
    platform: PlatformSource | None = None
    #: ledgers of the runs driven in this process (a child run's ledger links to its parent's)
    ledgers: dict[str, Ledger] = field(default_factory=dict)
    #: waits and retry backoffs longer than this park the run (status ``waiting`` with a
    #: timer, worker released) instead of sleeping; None: always sleep (inline driving)
    suspend_after_s: float | None = None
    default_node_timeout_s: float | None = None
    default_run_timeout_s: float | None = None
    cancel_poll_s: float = 0.25
    #: runs cancelled or paused from this process: seen at the next step without a database read
    stop_requests: dict[str, RunStatus] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep
    #: how long a node's start may wait to be stored together with its result
    start_hold_s: float = 0.05
    recorder: StepRecorder = field(init=False)

    def __post_init__(self) -> None:
        self.recorder = StepRecorder(self.sink, self.start_hold_s)


@dataclass
class RunContext:
    """Per-run execution context handed to compiled node functions."""

    run: Run
    services: EngineServices
    deadline: float | None = None  # time.time() by which the run must finish
    depth: int = 0
    #: the workflow's settings (default ``model:``, ``budget`` ...)
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: LLM tokens and cost counted per (node id, iteration) until its step is recorded
    usage: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    #: what the run spends, against its budget (a child's counts for its parent too)
    ledger: Ledger = field(default_factory=Ledger)
    #: the run's status was just read or written by whoever built this context
    _last_poll: float = field(default_factory=time.monotonic)
    #: this run's events and step records are copies of these (cheaper than building each)
    _event_proto: Event = field(init=False, repr=False)
    _step_proto: StepRecord = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._event_proto = Event.model_construct(
            seq=0,
            run_id=self.run.id,
            workflow=self.run.workflow_slug,
            version=self.run.version_number,
            type=EventType.NODE_STARTED,
            node_id=None,
            ts=utcnow(),
            data={},
        )
        self._step_proto = StepRecord.model_construct(
            run_id=self.run.id,
            node_id="",
            iteration="",
            attempt=1,
            status=StepStatus.RUNNING,
            input=None,
            output=None,
            error=None,
            route=None,
            started_at=None,
            finished_at=None,
            tokens=None,
            cost=None,
        )

    def new_step(self, node_id: str, iteration: str, input: Any) -> StepRecord:
        """A node's ``running`` step record, starting now."""
        return replaced(
            self._step_proto,
            {"node_id": node_id, "iteration": iteration, "input": input, "started_at": utcnow()},
        )

    def emit(self, type: EventType, node_id: str | None = None, **data: Any) -> Event:
        return self.emit_data(type, node_id, data)

    def emit_data(self, type: EventType, node_id: str | None, data: dict[str, Any]) -> Event:
        """Like :meth:`emit`, with the data as a dict (any keys, ``type`` included)."""
        return self.services.recorder.emit(self.run.id, [self._event(type, node_id, data)])[0]

    def emit_with_checkpoint(
        self, type: EventType, node_id: str | None = None, **data: Any
    ) -> None:
        """An event stored with the run's next checkpoint (e.g. ``run_started``, which the
        first checkpoint follows at once; a node's ``revision_requested`` with the writes of
        the node that asked for it)."""
        self.services.sink.defer([], [self._event(type, node_id, data)])

    def finish(
        self,
        target: RunStatus,
        type: EventType,
        data: dict[str, Any],
        *,
        created: Sequence[tuple[Run, Event]] = (),
        **fields: Any,
    ) -> Run:
        """Move the run to ``target`` (setting ``fields``) with its event ``type`` in ONE
        store transaction — together with the new runs ``created`` (and their events); raises
        InvalidTransition, storing nothing, if the state machine refuses (e.g. the run was
        cancelled meanwhile)."""
        event = self._event(type, None, data)
        return self.services.recorder.transition(
            self.run.id,
            target,
            fields,
            [event, *(e for _, e in created)],
            created=[r for r, _ in created],
        )

    def may_suspend(self, seconds: float) -> bool:
        """Whether a sleep of ``seconds`` parks the run instead (workers drive it, the sleep
        is long; child runs are driven inside their parent's node and always sleep)."""
        limit = self.services.suspend_after_s
        return limit is not None and seconds > limit and self.run.parent_run_id is None

    def begin_step(self, step: StepRecord, **data: Any) -> None:
        """A node started (its start is recorded with its result when it ends quickly)."""
        self.services.recorder.begin(step, self._event(EventType.NODE_STARTED, step.node_id, data))

    def record(
        self, step: StepRecord, type: EventType, *, with_checkpoint: bool = False, **data: Any
    ) -> None:
        """Save a step record with its event in one store transaction — with
        ``with_checkpoint``, in the transaction that stores the node's checkpoint writes."""
        event = self._event(type, step.node_id, data)
        self.services.recorder.finish(step, [event], defer=with_checkpoint)

    def _event(self, type: EventType, node_id: str | None, data: dict[str, Any]) -> Event:
        # built from engine-owned, already-typed values: no validation, no defaults (hot path)
        return replaced(
            self._event_proto, {"type": type, "node_id": node_id, "ts": utcnow(), "data": data}
        )

    def check_cancelled(self, *, force: bool = False) -> None:
        """Raise RunCancelled / RunPaused if a user stopped the run (polled, cheap)."""
        abandoned = ABANDONED.get()
        if abandoned is not None and abandoned.is_set():
            raise AttemptAbandoned(self.run.id)
        status = self.services.stop_requests.get(self.run.id)
        if status is None:
            now = time.monotonic()
            if not force and now - self._last_poll < self.services.cancel_poll_s:
                return
            self._last_poll = now
            status = self.services.runs.get(self.run.id).status
        if status == RunStatus.CANCELLED:
            raise RunCancelled(self.run.id)
        if status == RunStatus.PAUSED:
            raise RunPaused(self.run.id)

    def add_usage(self, node_id: str, iteration: str, tokens: int, cost: float | None) -> None:
        """Count tokens and cost on a node's step (cost None: unknown, and stays unknown) and
        in the run's ledger; raises BudgetExceeded when that spends the budget."""
        entry = self.usage.setdefault((node_id, iteration), [0, 0.0, True])
        entry[0] += tokens
        if cost is None:
            entry[2] = False
        else:
            entry[1] += cost
        if self.ledger.add(tokens, cost) is not None:
            self.check_budget(node_id)

    def check_budget(self, node_id: str) -> None:
        """Raise BudgetExceeded if this run (or a parent run) has spent its budget."""
        reason = self.ledger.over()
        if reason is not None:
            raise BudgetExceeded(
                {
                    "code": "budget_exceeded",
                    "message": reason,
                    "type": "BudgetExceeded",
                    "node_id": node_id,
                    "usage": self.ledger.spent.to_dict(),
                }
            )

    def take_usage(self, node_id: str, iteration: str) -> dict[str, Any]:
        """The step fields ``tokens`` / ``cost`` counted for a node (and forget them)."""
        entry = self.usage.pop((node_id, iteration), None)
        if entry is None:
            return {}
        return {"tokens": entry[0], "cost": round(entry[1], 8) if entry[2] else None}

    def remaining_s(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - time.time()
