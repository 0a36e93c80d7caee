"""``RunsFacade``: the run methods of the ``Workspace`` facade (start, follow, answer, re-run,
cancel, inspect), as a mixin of :class:`~workspace.runtime.workspace.Workspace`, which owns the
parts they use (store, engine, planner, dispatcher, control, event sink and stream)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workspace.domain.events import Event, EventType, run_event
from workspace.domain.graph import WorkflowGraph
from workspace.domain.ports import Store
from workspace.domain.run import Run, RunStatus
from workspace.domain.workflow import Version, Workflow, utcnow
from workspace.errors import ConflictError
from workspace.queue.ports import EventStream, TaskQueue
from workspace.runtime.follow import EventFollower
from workspace.runtime.handle import RunHandle
from workspace.runtime.planner import RunPlanner
from workspace.settings import Settings

if TYPE_CHECKING:
    from workspace.engine import Engine
    from workspace.runtime.control import RunControl
    from workspace.runtime.dispatch import Dispatcher
    from workspace.runtime.events import StoreEventSink

__all__ = ["RERUN_INPUT", "RunsFacade"]

#: journal key of a re-run's edited entry input
RERUN_INPUT = "rerun:input"


class RunsFacade:
    settings: Settings
    store: Store
    engine: Engine
    planner: RunPlanner
    dispatcher: Dispatcher
    control: RunControl
    queue: TaskQueue | None
    sink: StoreEventSink
    stream: EventStream

    if TYPE_CHECKING:  # defined by Workspace

        def import_dsl(
            self, text: str, *, filename: str = "<dsl>", author: str | None = None
        ) -> Version: ...

        def workflow(self, slug: str) -> Workflow: ...

    def create_run(
        self,
        slug: str,
        input: Any = None,
        *,
        trigger: str | None = None,
        version: int | None = None,
        user: str | None = None,
        thread: str | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        """Store a queued run (and its ``run_queued`` event); nothing drives it yet."""
        run = self.prepare_run(
            slug,
            input,
            trigger=trigger,
            version=version,
            user=user,
            thread=thread,
            parent_run_id=parent_run_id,
        )
        return self.engine.create(run)  # the run and its run_queued event, one transaction

    def prepare_run(
        self,
        slug: str,
        input: Any = None,
        *,
        trigger: str | None = None,
        version: int | None = None,
        user: str | None = None,
        thread: str | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        """A run of the workflow, validated (complete, compiles) but not stored."""
        return self.planner.prepare(
            slug,
            input,
            trigger=trigger,
            version=version,
            user=user,
            thread=thread,
            parent_run_id=parent_run_id,
        )

    def announce(self, run: Run) -> None:
        """Emit a stored run's ``run_queued`` event."""
        self.emit(run, EventType.RUN_QUEUED, trigger=run.trigger_id)

    def submit(self, run: Run, *, soon: bool = False) -> None:
        """Start driving a stored, queued run: by the workers, else in a thread here.
        ``soon``: the task is sent from a background thread (see ``Dispatcher.submit``)."""
        if self.queue is not None:
            self.dispatcher.submit(run, soon=soon)
        else:
            threading.Thread(
                target=self.drive, args=(run,), daemon=True, name=f"plait-run-{run.id}"
            ).start()

    def run(
        self,
        slug_or_dsl: str,
        input: Any = None,
        *,
        wait: bool = True,
        trigger: str | None = None,
        version: int | None = None,
        user: str | None = None,
        thread: str | None = None,
    ) -> RunHandle:
        """Run a published workflow (by slug) or a DSL document (imported first)."""
        slug = slug_or_dsl
        if "\n" in slug_or_dsl or ":" in slug_or_dsl:
            slug = self.import_dsl(slug_or_dsl).workflow_id
            slug = self.store.workflows.get_by_id(slug).slug
        run = self.prepare_run(
            slug, input, trigger=trigger, version=version, user=user, thread=thread
        )
        if wait and not self.remote:
            # driven here at once: stored as running, with its run_queued event, in one
            # transaction (the queued -> running write is saved)
            started = run.model_copy(update={"status": RunStatus.RUNNING, "started_at": utcnow()})
            return RunHandle(self.store, self.drive(self.engine.create(started)))
        run = self.engine.create(run)
        if self.remote:
            self.dispatcher.submit(run)
            if wait:
                run = self.dispatcher.wait(run.id)
            return RunHandle(self.store, run)
        self.submit(run)
        return RunHandle(self.store, run)

    def execute(self, task: Any) -> None:
        """The workers' task handler (see ``Dispatcher.execute``)."""
        self.dispatcher.execute(task)

    def events(self, run_id: str, *, after: int = 0, until_final: bool = True) -> EventFollower:
        """The run's events with ``seq > after``, live: iterate it (``for`` or ``async for``);
        it ends after the run's final event unless ``until_final`` is False."""
        self.store.runs.get(run_id)  # NotFoundError for an unknown run
        return EventFollower(
            run_id,
            log_=self.store.events,
            runs=self.store.runs,
            stream=self.stream,
            after=after,
            until_final=until_final,
        )

    def wait(self, run_id: str, *, timeout_s: float | None = None) -> RunHandle:
        """Block until the run is finished, waiting for a person, or paused."""
        return RunHandle(self.store, self.dispatcher.wait(run_id, timeout_s=timeout_s))

    def drive(self, run: Run, *, depth: int = 0) -> Run:
        """Drive a queued run here (a re-run starts at its entry node, upstream reused)."""
        graph = self.graph_of(run)
        if run.rerun_of is None or run.rerun_from_node is None:
            return self.engine.start(run, graph, depth=depth)
        edited = self.store.runs.journal_get(run.id, RERUN_INPUT)
        old = self.store.runs.get(run.rerun_of)
        seed = self.engine.rerun_seed(
            old, graph, run.rerun_from_node, edited["value"] if edited else None
        )
        return self.engine.start(run, graph, seed=seed, depth=depth)

    def drive_child(self, run: Run, *, depth: int) -> Run:
        graph = self.graph_of(run)
        if run.status == RunStatus.QUEUED:
            return self.engine.start(run, graph, depth=depth)
        return self.engine.recover(run, graph, depth=depth)

    def resume(self, run_id: str, token: str, answer: Any, *, wait: bool = True) -> RunHandle:
        """Answer a waiting human step. Idempotent: repeating the same call changes nothing."""
        return RunHandle(self.store, self.resume_run(run_id, token, answer, wait=wait))

    def resume_run(
        self, run_id: str, token: str, answer: Any, *, depth: int = 0, wait: bool = True
    ) -> Run:
        """Journal the answer to the open request holding ``token``, then continue the run
        (see ``RunControl.answer``)."""
        return self.control.answer(run_id, token, answer, depth=depth, wait=wait)

    def recover(self, run_id: str) -> RunHandle:
        run = self.store.runs.get(run_id)
        return RunHandle(self.store, self.engine.recover(run, self.graph_of(run)))

    def rerun(
        self,
        run_id: str,
        from_node: str,
        input: Any = None,
        *,
        wait: bool = True,
        timeout_s: float | None = None,
    ) -> RunHandle:
        """Re-run a finished run from ``from_node``, reusing upstream outputs (SPEC §4.6); the
        new run is driven like any other (by the workers when there are)."""
        old = self.store.runs.get(run_id)
        if not old.status.terminal:
            raise ConflictError(
                f"run {run_id} is {old.status.value}; re-run needs a finished run",
                code="not_finished",
            )
        self.engine.rerun_seed(old, self.graph_of(old), from_node, input)  # bad node: no run
        run = self.store.runs.create(RunPlanner.rerun_of(old, from_node))
        if input is not None:  # the edited input of the entry node, for whoever drives it
            self.store.runs.journal_put(run.id, RERUN_INPUT, {"value": input})
        self.emit(run, EventType.RUN_QUEUED, rerun_of=old.id, from_node=from_node)
        if self.remote:
            self.dispatcher.submit(run)
            return self.wait(run.id, timeout_s=timeout_s) if wait else RunHandle(self.store, run)
        if not wait:
            self.submit(run)
            return RunHandle(self.store, run)
        return RunHandle(self.store, self.drive(run))

    def cancel(self, run_id: str) -> RunHandle:
        """Cancel a run; the engine stops between steps. Child runs are cancelled too."""
        return RunHandle(self.store, self.control.cancel(run_id))

    def pause(self, run_id: str) -> RunHandle:
        """Pause a queued or running run between nodes (``unpause`` continues it)."""
        return RunHandle(self.store, self.control.pause(run_id))

    def unpause(self, run_id: str, *, wait: bool = False) -> RunHandle:
        """Continue a paused run from its last checkpoint (by the workers when there are)."""
        return RunHandle(self.store, self.control.unpause(run_id, wait=wait))

    def get_run(self, run_id: str) -> RunHandle:
        return RunHandle(self.store, self.store.runs.get(run_id))

    def runs(self, workflow: str | None = None, *, limit: int = 50) -> list[Run]:
        wf_id = self.workflow(workflow).id if workflow else None
        return list(self.store.runs.list(workflow_id=wf_id, limit=limit))

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback`` for every event emitted in this process; returns an unsubscribe."""
        return self.sink.subscribe(callback)

    # -- helpers ---------------------------------------------------------------------------

    def graph_of(self, run: Run) -> WorkflowGraph:
        """The graph of the version the run is pinned to."""
        return self.planner.graph_of(run)

    def version(self, workflow_id: str, number: int) -> Version:
        """A published version (cached: versions are immutable)."""
        return self.planner.version(workflow_id, number)

    @property
    def remote(self) -> bool:
        """True when runs started here are driven by workers (a task queue and live workers)."""
        return self.queue is not None and self._workers_seen()

    def _workers_seen(self) -> bool:
        within = self.settings.runtime.heartbeat_s * 5
        return bool(self.store.workers.alive(within_s=within))

    def emit(self, run: Run, type: EventType, node_id: str | None = None, **data: Any) -> Event:
        # through the engine's recorder, so a run's held node starts are stored first
        event = run_event(run, type, node_id, **data)
        return self.engine.services.recorder.emit(run.id, [event])[0]
