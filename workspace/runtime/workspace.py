"""The ``Workspace`` facade: the one API notebooks, chat, canvas and the CLI use.

from workspace import Workspace
ws = Workspace.open("my-workspace")          # a folder (embedded SQLite) or a database URL
ws.save(dsl_text); ws.publish("triage")
handle = ws.run("triage", {"payload": {...}})
ws.resume(handle.id, handle.token, "approve")
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workspace.ai import ModelCatalog
from workspace.domain.events import Event
from workspace.domain.graph import WorkflowGraph
from workspace.domain.ports import Store
from workspace.domain.run import RunStatus
from workspace.domain.workflow import Version, Workflow
from workspace.queue.memory import MemoryEventStream
from workspace.queue.ports import EventStream, TaskQueue
from workspace.runtime.assembly import build_engine
from workspace.runtime.connect import redis_channels, running_embedded_redis
from workspace.runtime.control import RunControl
from workspace.runtime.credentials import CredentialService, settings_keyring
from workspace.runtime.dispatch import Dispatcher
from workspace.runtime.drafts import DraftEditor
from workspace.runtime.events import StoreEventSink
from workspace.runtime.handle import RunHandle
from workspace.runtime.handoff import Handoff
from workspace.runtime.leases import LeaseKeeper, process_owner_id
from workspace.runtime.memory import MemoryService
from workspace.runtime.models import ModelService
from workspace.runtime.notebook import ImportedNotebook, NotebookService
from workspace.runtime.planner import RunPlanner
from workspace.runtime.runs_facade import RunsFacade
from workspace.runtime.timers import InlineTimerKeeper, Timers
from workspace.runtime.workflows import WorkflowService
from workspace.sdk.registry import NodeRegistry
from workspace.settings import Settings, load_settings
from workspace.store import MemoryStore, open_store, upgrade_database

if TYPE_CHECKING:
    from workspace.runtime.scheduler.control import ScheduleControl
    from workspace.runtime.scheduler.service import SchedulerThread

__all__ = ["RunHandle", "Workspace"]


log = logging.getLogger(__name__)


class Workspace(RunsFacade):
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
        self._publisher: Handoff[Event] | None = None
        if stream is not None:
            self._publisher = Handoff(
                stream.publish,
                name="plait-event-publisher",
                what="events from the live path (they are in the database)",
            )
        self.sink.subscribe(self._publisher.put if self._publisher else self._publish)
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
        self.dispatcher.close()  # sends the tasks handed off so far, before the queue closes
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

    # -- helpers -------------------------------------------------------------------------------

    def _publish(self, event: Event) -> None:
        try:
            self.stream.publish([event])
        except Exception as exc:  # Redis away: the event is in the database all the same
            log.warning("could not publish event %s of run %s: %s", event.seq, event.run_id, exc)

    def _lost(self, run_id: str) -> None:
        # another worker took the run over (this process stalled past its lease): stop here
        self.engine.services.stop_requests[run_id] = RunStatus.PAUSED
