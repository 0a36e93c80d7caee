"""In-memory implementations of the store ports (tests, notebooks without a database).

Behaves like the SQL store in every way the contract suite checks: values are stored as JSON
copies (mutating what you passed in or got back never changes what is stored), datetimes are UTC,
the same errors are raised. One lock per store makes every operation atomic across threads.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workspace.domain.events import Event
from workspace.domain.operations import Lease
from workspace.domain.run import Run, RunStatus, StepRecord, check_transition
from workspace.domain.schedule import Schedule
from workspace.domain.usage import Usage
from workspace.domain.workflow import Draft, Version, Workflow
from workspace.errors import ConflictError, NotFoundError
from workspace.store._codec import (
    json_value,
    normalize_event,
    normalize_run,
    normalize_step,
    sum_usage,
)
from workspace.store._codec import run_changes as _run_changes
from workspace.store.memory_credentials import MemoryCredentialRepository
from workspace.store.memory_memories import MemoryMemoryRepository
from workspace.store.memory_ops import (
    MemoryAccessRepository,
    MemoryDeliveryRepository,
    MemoryLeaseRepository,
    MemoryWorkerRegistry,
)
from workspace.store.memory_schedules import MemoryScheduleRepository
from workspace.store.memory_workflows import MemoryWorkflowRepository

__all__ = ["MemoryEventLog", "MemoryRunRepository", "MemoryStore", "MemoryWorkflowRepository"]


@dataclass
class _RunState:
    run: Run
    steps: dict[tuple[str, str], StepRecord] = field(default_factory=dict)
    journal: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


class _Data:
    """Everything a MemoryStore holds, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.workflows: dict[str, Workflow] = {}  # by id
        self.slugs: dict[str, str] = {}  # slug -> id
        self.drafts: dict[str, Draft] = {}
        self.versions: dict[str, list[Version]] = {}
        self.runs: dict[str, _RunState] = {}
        self.schedules: dict[str, Schedule] = {}  # by id
        #: run id -> its lease (``MemoryLeaseRepository``); a terminal transition drops it
        self.leases: dict[str, Lease] = {}

    def run_state(self, run_id: str) -> _RunState:
        state = self.runs.get(run_id)
        if state is None:
            raise NotFoundError(f"run {run_id!r} not found", run_id=run_id)
        return state


class MemoryRunRepository:
    def __init__(self, data: _Data) -> None:
        self._d = data

    def create(self, run: Run) -> Run:
        stored = normalize_run(run)
        with self._d.lock:
            if stored.id in self._d.runs:
                raise ConflictError(f"a run with id {run.id!r} already exists", run_id=run.id)
            self._d.runs[stored.id] = _RunState(run=stored)
        return stored.model_copy(deep=True)

    def get(self, run_id: str) -> Run:
        with self._d.lock:
            return self._d.run_state(run_id).run.model_copy(deep=True)

    def list(
        self,
        *,
        workflow_id: str | None = None,
        status: RunStatus | None = None,
        parent_run_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Run]:
        with self._d.lock:
            items = [s.run for s in self._d.runs.values()]
        if workflow_id is not None:
            items = [r for r in items if r.workflow_id == workflow_id]
        if status is not None:
            items = [r for r in items if r.status == RunStatus(status)]
        if parent_run_id is not None:
            items = [r for r in items if r.parent_run_id == parent_run_id]
        items.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        offset, limit = max(0, offset), max(0, limit)
        return [r.model_copy(deep=True) for r in items[offset : offset + limit]]

    def transition(self, run_id: str, target: RunStatus, **fields: Any) -> Run:
        target = RunStatus(target)
        with self._d.lock:
            state = self._d.run_state(run_id)
            check_transition(state.run.status, target)
            state.run, _ = _run_changes(state.run, fields, target=target)
            if target.terminal:
                self._d.leases.pop(run_id, None)
            return state.run.model_copy(deep=True)

    def update(self, run_id: str, **fields: Any) -> Run:
        with self._d.lock:
            state = self._d.run_state(run_id)
            state.run, _ = _run_changes(state.run, fields)
            return state.run.model_copy(deep=True)

    def save_step(self, step: StepRecord) -> StepRecord:
        stored = normalize_step(step)
        with self._d.lock:
            state = self._d.run_state(step.run_id)
            # dicts keep insertion order: a replaced step keeps its first-started position
            state.steps[(stored.node_id, stored.iteration)] = stored
        return stored.model_copy(deep=True)

    def list_steps(self, run_id: str) -> builtins.list[StepRecord]:
        with self._d.lock:
            state = self._d.runs.get(run_id)
            steps = [] if state is None else list(state.steps.values())
        return [s.model_copy(deep=True) for s in steps]

    def usage(
        self,
        *,
        run_ids: Sequence[str] | None = None,
        workflow_id: str | None = None,
        since: datetime | None = None,
    ) -> Usage:
        with self._d.lock:
            states = [self._d.runs[r] for r in run_ids or () if r in self._d.runs]
            if run_ids is None:
                states = [
                    st
                    for st in self._d.runs.values()
                    if st.run.workflow_id == workflow_id
                    and (since is None or st.run.created_at >= since)
                ]
            steps = [step for st in states for step in st.steps.values()]
        return sum_usage((s.tokens, s.cost) for s in steps)

    def journal_get(self, run_id: str, key: str) -> Any | None:
        with self._d.lock:
            state = self._d.runs.get(run_id)
            value = None if state is None else state.journal.get(key)
        return json_value(value)

    def journal_put(self, run_id: str, key: str, value: Any) -> None:
        stored = json_value(value, what="journal value")
        with self._d.lock:
            self._d.run_state(run_id).journal.setdefault(key, stored)


class MemoryEventLog:
    def __init__(self, data: _Data) -> None:
        self._d = data

    def append(self, event: Event) -> Event:
        with self._d.lock:
            state = self._d.runs.get(event.run_id)
            if state is None:
                raise NotFoundError(
                    f"run {event.run_id!r} not found; cannot log its event", run_id=event.run_id
                )
            stored = normalize_event(event, len(state.events) + 1)
            state.events.append(stored)
        return stored.model_copy(deep=True)

    def append_many(self, batch: Sequence[Event]) -> builtins.list[Event]:
        """Append several events atomically (all or none), in order."""
        with self._d.lock:
            for event in batch:
                self._d.run_state(event.run_id)  # all runs exist before anything is stored
            return [self.append(event) for event in batch]

    def record(
        self,
        steps: Sequence[StepRecord],
        batch: Sequence[Event],
        on_stored: Callable[[builtins.list[Event]], None] | None = None,
    ) -> builtins.list[Event]:
        """Store ``steps`` and append ``batch`` atomically; ``on_stored`` runs under the same
        lock, so deliveries follow ``seq`` order."""
        with self._d.lock:
            normalized = [normalize_step(step) for step in steps]
            for step in normalized:
                self._d.run_state(step.run_id)
            events = self.append_many(batch)
            for step in normalized:
                self._d.run_state(step.run_id).steps[(step.node_id, step.iteration)] = step
            if on_stored is not None and events:
                on_stored(events)
            return events

    def record_transition(
        self,
        run_id: str,
        target: RunStatus,
        fields: dict[str, Any],
        steps: Sequence[StepRecord] = (),
        batch: Sequence[Event] = (),
        on_stored: Callable[[builtins.list[Event]], None] | None = None,
        *,
        created: Sequence[Run] = (),
    ) -> tuple[Run, builtins.list[Event]]:
        """``RunRepository.transition``, the ``created`` runs and ``record`` under one lock:
        all or nothing."""
        target = RunStatus(target)
        new_runs = [normalize_run(r) for r in created]
        with self._d.lock:
            state = self._d.run_state(run_id)
            check_transition(state.run.status, target)
            updated, _ = _run_changes(state.run, fields, target=target)
            new_ids = {r.id for r in new_runs}
            if len(new_ids) < len(new_runs) or new_ids & set(self._d.runs):
                raise ConflictError(
                    f"a run created with run {run_id!r}'s transition exists already; "
                    "nothing was stored",
                    run_id=run_id,
                )
            for step in steps:
                if step.run_id not in new_ids:
                    self._d.run_state(step.run_id)
            for event in batch:
                if event.run_id not in new_ids:
                    self._d.run_state(event.run_id)
            previous, state.run = state.run, updated
            for new in new_runs:
                self._d.runs[new.id] = _RunState(run=new)
            try:
                events = self.record(steps, batch, on_stored)
            except BaseException:
                state.run = previous
                for new in new_runs:
                    del self._d.runs[new.id]
                raise
            if target.terminal:
                self._d.leases.pop(run_id, None)
            return updated.model_copy(deep=True), events

    def record_created(
        self,
        run: Run,
        batch: Sequence[Event],
        on_stored: Callable[[builtins.list[Event]], None] | None = None,
    ) -> tuple[Run, builtins.list[Event]]:
        """``RunRepository.create`` and ``append_many`` under one lock: all or nothing."""
        stored = normalize_run(run)
        with self._d.lock:
            if stored.id in self._d.runs:
                raise ConflictError(f"a run with id {run.id!r} already exists", run_id=run.id)
            for event in batch:
                if event.run_id != stored.id:
                    self._d.run_state(event.run_id)
            self._d.runs[stored.id] = _RunState(run=stored)
            try:
                events = self.record((), batch, on_stored)
            except BaseException:
                del self._d.runs[stored.id]
                raise
            return stored.model_copy(deep=True), events

    def defer(
        self,
        steps: Sequence[StepRecord],
        batch: Sequence[Event],
        on_stored: Callable[[builtins.list[Event]], None] | None = None,
    ) -> None:
        """In memory there is no checkpoint transaction to ride on: store now."""
        self.record(steps, batch, on_stored)

    def flush(self, run_id: str | None = None) -> None:
        """Nothing is ever deferred in memory."""

    def list(self, run_id: str, *, after: int = 0, limit: int = 1000) -> builtins.list[Event]:
        with self._d.lock:
            state = self._d.runs.get(run_id)
            items = [] if state is None else state.events[max(0, after) :]
        return [e.model_copy(deep=True) for e in items[: max(0, limit)]]


class MemoryStore:
    """The ``Store`` port in memory. ``checkpointer()`` is LangGraph's ``InMemorySaver``."""

    def __init__(self) -> None:
        data = _Data()
        self.workflows = MemoryWorkflowRepository(data)
        self.runs = MemoryRunRepository(data)
        self.events = MemoryEventLog(data)
        self.access = MemoryAccessRepository(data)
        self.leases = MemoryLeaseRepository(data)
        self.workers = MemoryWorkerRegistry(data)
        self.deliveries = MemoryDeliveryRepository(data, self.events)
        self.credentials = MemoryCredentialRepository()
        self.schedules = MemoryScheduleRepository(data, self.deliveries)
        self.memory = MemoryMemoryRepository()
        self._saver: Any = None
        self._saver_lock = threading.Lock()

    def checkpointer(self) -> Any:
        """One ``InMemorySaver`` per store (the same object on every call)."""
        with self._saver_lock:
            if self._saver is None:
                from langgraph.checkpoint.memory import InMemorySaver

                self._saver = InMemorySaver()
            return self._saver

    def close(self) -> None:
        """Nothing to release; kept for parity with ``SqlStore``."""

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if TYPE_CHECKING:
    from workspace.domain.ports import Store

    def _conforms(store: MemoryStore) -> Store:  # mypy proves MemoryStore implements the port
        return store
