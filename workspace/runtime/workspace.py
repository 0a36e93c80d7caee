"""The ``Workspace`` facade: the one API notebooks, chat, canvas and the CLI use.

from workspace import Workspace
ws = Workspace.open("my-workspace")          # a folder (embedded SQLite) or a database URL
ws.save(dsl_text); ws.publish("triage")
handle = ws.run("triage", {"payload": {...}})
ws.resume(handle.id, handle.token, "approve")
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workspace.ai import ModelCatalog
from workspace.domain.events import Event, EventType
from workspace.domain.graph import WorkflowGraph
from workspace.domain.ports import Store
from workspace.domain.run import Run, RunStatus
from workspace.domain.workflow import Version, Workflow, utcnow
from workspace.errors import ConflictError
from workspace.queue.memory import MemoryEventStream
from workspace.queue.ports import EventStream, TaskQueue
from workspace.runtime.assembly import build_engine
from workspace.runtime.connect import redis_channels, running_embedded_redis
from workspace.runtime.control import RunControl
from workspace.runtime.credentials import CredentialService, settings_keyring
from workspace.runtime.dispatch import Dispatcher
from workspace.runtime.drafts import DraftEditor
from workspace.runtime.events import StoreEventSink
from workspace.runtime.follow import EventFollower
from workspace.runtime.handle import RunHandle
from workspace.runtime.leases import LeaseKeeper, process_owner_id
from workspace.runtime.memory import MemoryService
from workspace.runtime.models import ModelService
from workspace.runtime.notebook import ImportedNotebook, NotebookService
from workspace.runtime.planner import RunPlanner
from workspace.runtime.publisher import BackgroundPublisher
from workspace.runtime.timers import InlineTimerKeeper, Timers
from workspace.runtime.workflows import WorkflowService
from workspace.sdk.registry import NodeRegistry
from workspace.settings import Settings, load_settings
from workspace.store import MemoryStore, open_store, upgrade_database

if TYPE_CHECKING:
    from workspace.runtime.scheduler.control import ScheduleControl
    from workspace.runtime.scheduler.service import SchedulerThread

__all__ = ["RunHandle", "Workspace"]

#: journal key of a re-run's edited entry input
RERUN_INPUT = "rerun:input"


log = logging.getLogger(__name__)


class Workspace:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        registry: NodeRegistry | None = None,
        *,
        queue: TaskQueue | None = None,
        stream: EventStream | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry or NodeRegistry.discover()
        self.sink = StoreEventSink(store.events)
        #: live path of events (Redis Streams across processes; in memory otherwise)
        # (in process the stream only wakes followers; the database keeps every event)
        self.stream: EventStream = stream or MemoryEventStream(maxlen=1_000, ttl_s=600)
        #: a cross-process stream (Redis) is fed from a background thread, never under the
        #: database write lock; the in-process stream is cheap and fed directly
        self._publisher = BackgroundPublisher(self.stream) if stream is not None else None
        self.sink.subscribe(self._publisher.publish if self._publisher else self._publish)
        #: the task queue of the workers; None: runs are driven in this process
        self.queue = queue
        rt = settings.runtime
        self.leases = LeaseKeeper(
            store,
            process_owner_id(),
            ttl_s=rt.lease_ttl_s,
            interval_s=rt.heartbeat_s,
            on_lost=self._lost,
        )
        self.dispatcher = Dispatcher(self, queue, self.leases)
        self.control = RunControl(self)
        self.workflows = WorkflowService(store, self.registry)
        self.notebooks = NotebookService(store, self.workflows, self.registry)
        self.drafts = DraftEditor(self.workflows)
        self.credentials = CredentialService(
            store.credentials,
            settings_keyring(settings),
            test_timeout_s=settings.secrets.test_timeout_s,
        )
        self.models = ModelService(
            self.credentials, ModelCatalog().with_overrides(settings.ai.models)
        )
        self.memory = MemoryService(store.memory, store.workflows)
        self.timers = Timers(self)
        self._timer_keeper: InlineTimerKeeper | None = None
        if rt.inline_timer_poll_s > 0:
            self._timer_keeper = InlineTimerKeeper(self, rt.inline_timer_poll_s)
            self.sink.subscribe(self._timer_keeper.on_event)
        self.engine = build_engine(self)
        self.planner = RunPlanner(
            store, self.registry, self.engine.flow, cache_size=settings.engine.graph_cache_size
        )

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        target: str | Path | None = None,
        *,
        settings: Settings | None = None,
        registry: NodeRegistry | None = None,
        redis_url: str | None = None,
        inline: bool = False,
    ) -> Workspace:
        """Open a workspace folder (embedded SQLite, migrated automatically) or a database URL
        (which must already be at the latest migration: ``plait db upgrade``).

        With a Redis URL (``redis_url`` or ``PLAIT_REDIS_URL``) runs go to the workers through
        the task queue and events stream across processes; without one runs are driven in
        this process. A workspace folder whose ``plait up`` is running is found by its embedded
        Redis. ``inline=True`` always drives runs in this process.
        """
        settings = settings or load_settings()
        if target is None:
            target = settings.database_url or settings.workspace_dir
        text = str(target)
        if "://" in text:
            url = text
        else:
            folder = Path(text).expanduser()
            folder.mkdir(parents=True, exist_ok=True)
            settings = settings.model_copy(update={"workspace_dir": folder})
            url = settings.resolved_database_url()
            if url.startswith("sqlite"):
                upgrade_database(url)
        store = open_store(url)
        redis_url = None if inline else (redis_url or settings.redis_url)
        if redis_url is None and not inline and "://" not in text:
            redis_url = running_embedded_redis(settings.workspace_dir)
        if not redis_url:
            return cls(store, settings, registry)

        try:
            queue, stream = redis_channels(redis_url)
        except BaseException:
            store.close()
            raise
        return cls(store, settings, registry, queue=queue, stream=stream)

    @classmethod
    def in_memory(
        cls, *, settings: Settings | None = None, registry: NodeRegistry | None = None
    ) -> Workspace:
        return cls(MemoryStore(), settings or load_settings(), registry)

    def close(self) -> None:
        if self._timer_keeper is not None:
            self._timer_keeper.close()
        self.leases.close()
        if self.queue is not None:
            self.queue.close()
        if self._publisher is not None:
            self._publisher.close()
        self.stream.close()
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- workflows -----------------------------------------------------------------------------

    def validate(self, text: str, *, draft: bool = False, filename: str = "<dsl>") -> Any:
        return self.workflows.validate(text, draft=draft, filename=filename)

    def save(
        self, text: str, *, draft: bool = False, filename: str = "<dsl>", owner: str | None = None
    ) -> Workflow:
        return self.workflows.save(text, draft=draft, filename=filename, owner=owner)

    def publish(self, slug: str, *, message: str = "", author: str | None = None) -> Version:
        return self.workflows.publish(slug, message=message, author=author)

    def import_dsl(
        self, text: str, *, filename: str = "<dsl>", author: str | None = None
    ) -> Version:
        """Save and publish (no new version when the content did not change)."""
        wf = self.save(text, filename=filename, owner=author)
        return self.workflows.publish(wf.slug, author=author, only_if_changed=True)

    def export(self, slug: str, *, format: str = "yaml", version: int | None = None) -> str:
        return self.workflows.export(slug, format=format, version=version)

    def workflow(self, slug: str) -> Workflow:
        return self.store.workflows.get(slug)

    def list_workflows(self) -> list[Workflow]:
        return list(self.store.workflows.list())

    def diff(self, slug: str, a: int | str, b: int | str = "draft") -> dict[str, Any]:
        """DSL text diff and structural diff between versions (or ``"draft"``)."""
        return self.workflows.diff(slug, a, b)

    def rollback(self, slug: str, version: int, *, author: str | None = None) -> Version:
        """Publish an older version's content as a new version."""
        return self.workflows.rollback(slug, version, author=author)

    def versions(self, slug: str) -> list[Version]:
        return list(self.store.workflows.list_versions(self.workflow(slug).id))

    def graph(self, slug: str, *, draft: bool = True) -> WorkflowGraph:
        """The workflow's draft graph (``draft=False``, or no draft: its latest version's)."""
        return self.notebooks.graph(slug, draft=draft)

    def save_step(
        self,
        slug: str,
        step_id: str,
        body: str,
        *,
        type: str | None = None,
        after: str | None = None,
    ) -> Workflow:
        """A ``%%step`` cell: ``body`` becomes the step's code/template/prompt (or, for types
        without one, a YAML mapping of its config) in the draft; the step is added after
        ``after`` when missing. Fork-and-patch under the hood; idempotent."""
        return self.notebooks.save_step(slug, step_id, body, type=type, after=after)

    def export_notebook(self, slug: str, *, version: int | None = None) -> dict[str, Any]:
        """The workflow as notebook JSON (nbformat 4): skeleton + one cell per step."""
        return self.notebooks.export_notebook(slug, version=version)

    def import_notebook(
        self, notebook: dict[str, Any] | str, *, publish: bool = True, owner: str | None = None
    ) -> ImportedNotebook:
        """Rebuild a workflow from a notebook's ``%%workflow``/``%%step`` cells."""
        return self.notebooks.import_notebook(notebook, publish=publish, owner=owner)

    # -- schedules ------------------------------------------------------------------------------

    @property
    def schedules(self) -> ScheduleControl:
        """The workspace's schedules: ``list``, ``get``, ``pause``, ``resume``, ``run_now``
        (as ``plait schedules`` and ``/api/v1/schedules``)."""
        from workspace.runtime.scheduler.control import ScheduleControl

        return ScheduleControl(self)

    def start_scheduler(self) -> SchedulerThread:
        """Start the scheduler role in a thread of this process (``plait scheduler`` is the
        same loop on its own); ``.stop()`` ends it. Without Redis its lock is local to this
        process: start one."""
        from workspace.runtime.scheduler.service import SchedulerThread

        return SchedulerThread(self).start()

    # -- runs ----------------------------------------------------------------------------------

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

    def submit(self, run: Run) -> None:
        """Start driving a stored, queued run: by the workers, else in a thread here."""
        if self.queue is not None:
            self.dispatcher.submit(run)
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

    # -- helpers -------------------------------------------------------------------------------

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

    def _publish(self, event: Event) -> None:
        try:
            self.stream.publish([event])
        except Exception as exc:  # Redis away: the event is in the database all the same
            log.warning("could not publish event %s of run %s: %s", event.seq, event.run_id, exc)

    def _lost(self, run_id: str) -> None:
        # another worker took the run over (this process stalled past its lease): stop here
        self.engine.services.stop_requests[run_id] = RunStatus.PAUSED

    def emit(self, run: Run, type: EventType, node_id: str | None = None, **data: Any) -> Event:
        # through the engine's recorder, so a run's held node starts are stored first
        event = Event(
            run_id=run.id,
            workflow=run.workflow_slug,
            version=run.version_number,
            type=type,
            node_id=node_id,
            data=data,
        )
        return self.engine.services.recorder.emit(run.id, [event])[0]
