"""``PlatformService``: the engine's :class:`~workspace.sdk.platform.PlatformSource` — Plait
itself, seen by a running node as the owner of its workflow (self-awareness tools).

Scoping: every lookup keeps only workflows whose owner is the running workflow's owner
(``None`` sees only ownerless workflows), so another user's workflows, runs and schedules are
"not found". Writes go through :class:`AgentDrafts` (drafts only, authored
``agent:<workflow>.<node>``) and :class:`Spawner` (depth and count limits).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workspace.domain.run import Run, RunStatus
from workspace.domain.schedule import Schedule
from workspace.domain.workflow import Workflow
from workspace.errors import NodeError, NotFoundError, PlaitError
from workspace.runtime.agent_drafts import AgentDrafts
from workspace.runtime.spawn import Spawner

if TYPE_CHECKING:
    from workspace.runtime.workspace import Workspace
    from workspace.sdk.context import NodeContext

__all__ = ["PlatformService", "RunPlatform"]

_ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING, RunStatus.PAUSED)


def _schedule(s: Schedule) -> dict[str, Any]:
    return {
        "id": s.id,
        "workflow": s.workflow_slug,
        "trigger_id": s.trigger_id,
        "paused": s.paused,
        "next_fire_at": s.next_fire_at.isoformat() if s.next_fire_at else None,
        "last_fire_at": s.last_fire_at.isoformat() if s.last_fire_at else None,
        "last_status": s.last_status,
        "fires": s.fires,
        "failures": s.failures,
    }


def _run(r: Run) -> dict[str, Any]:
    return {
        "id": r.id,
        "workflow": r.workflow_slug,
        "version": r.version_number,
        "status": r.status.value,
        "created_at": r.created_at.isoformat(),
        "error": r.error,
        "parent_run_id": r.parent_run_id,
    }


class PlatformService:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.spawner = Spawner(ws, max_depth=ws.settings.engine.max_subworkflow_depth)

    def open(self, ctx: NodeContext, run: Run, *, depth: int) -> RunPlatform:
        return RunPlatform(self, ctx, run, depth)


class RunPlatform:
    """One node execution's :class:`~workspace.sdk.platform.Platform`."""

    def __init__(self, service: PlatformService, ctx: NodeContext, run: Run, depth: int) -> None:
        self._s = service
        self._ws = service.ws
        self._ctx = ctx
        self._run = run
        self._depth = depth
        self._owner = self._ws.store.workflows.get_by_id(run.workflow_id).owner
        self._drafts = AgentDrafts(
            self._ws,
            owner=self._owner,
            author=f"agent:{run.workflow_slug}.{ctx.node_id}",
            node_id=ctx.node_id,
        )
        self._ops: dict[str, Callable[[Mapping[str, Any]], Any]] = {
            "workflows.list": lambda p: self.discover(
                p.get("query"), limit=int(p.get("limit", 50))
            ),
            "workflows.get": self._get_workflow,
            "workflows.versions": self._versions,
            "runs.list": self._list_runs,
            "runs.get": self._get_run,
            "node_types.list": lambda p: self._node_types(),
            "node_types.get": self._node_type,
            "schedules.list": lambda p: self.schedules("list", workflow=p.get("workflow")),
        }

    def _fail(self, message: str, code: str) -> NodeError:
        return NodeError(message, code=code, node_id=self._ctx.node_id, retryable=False)

    def _owned(self, slug: str | None) -> Workflow:
        wf = self._drafts.owned(slug or "")
        if wf is None:
            raise self._fail(f"workflow {slug!r} not found", "workflow_not_found")
        return wf

    def _workflows(self) -> list[Workflow]:
        return [w for w in self._ws.store.workflows.list(limit=10_000) if w.owner == self._owner]

    # -- who and what --------------------------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        run = self._run
        return {
            "node_id": self._ctx.node_id,
            "run_id": run.id,
            "workflow": run.workflow_slug,
            "version": run.version_number,
            "trigger_id": run.trigger_id,
            "owner": self._owner,
            "user": run.user,
            "thread": run.thread_id,
            "parent_run_id": run.parent_run_id,
            "depth": self._depth,
            "author_name": f"agent:{run.workflow_slug}.{self._ctx.node_id}",
        }

    def _triggers(self, wf: Workflow) -> list[dict[str, Any]]:
        try:
            graph = self._drafts.current_graph(wf)
        except NotFoundError:
            return []
        out = []
        for node in graph.nodes:
            if node.type in self._ws.registry and self._ws.registry.get(node.type).is_trigger:
                # plain settings (cron, interval_s, mode ...); nothing naming a secret
                summary = {
                    k: v
                    for k, v in node.config.items()
                    if isinstance(v, str | int | float | bool)
                    and not any(s in k for s in ("secret", "credential", "token", "key"))
                }
                out.append({"id": node.id, "type": node.type, **summary})
        return out

    def discover(self, query: str | None = None, *, limit: int = 20) -> list[dict[str, Any]]:
        words = [w.lower() for w in (query or "").split() if w]
        repo = self._ws.store.workflows
        found = []
        for wf in self._workflows():
            text = " ".join([wf.slug, wf.name, wf.description, *wf.tags]).lower()
            if words and not any(w in text for w in words):
                continue
            draft = repo.get_draft(wf.id)
            try:
                latest: int | None = repo.latest_version_number(wf.id) or None
            except NotFoundError:
                latest = None
            found.append(
                {
                    "slug": wf.slug,
                    "name": wf.name,
                    "description": wf.description,
                    "tags": list(wf.tags),
                    "latest_version": latest,
                    "draft_author": draft.author if draft else None,
                    "triggers": self._triggers(wf),
                }
            )
            if len(found) >= limit:
                break
        return found

    # -- writing -------------------------------------------------------------------------------

    def create_workflow(self, dsl: str) -> dict[str, Any]:
        return self._drafts.create(dsl)

    def patch_workflow(
        self, workflow: str, patches: Sequence[Mapping[str, Any]], *, into: str | None = None
    ) -> dict[str, Any]:
        return self._drafts.patch(workflow, patches, into=into)

    def spawn(
        self, runs: Sequence[Mapping[str, Any]], *, timeout_s: float | None = None
    ) -> list[dict[str, Any]]:
        return self._s.spawner.spawn(
            self._ctx,
            self._run,
            self._depth,
            lambda slug: self._drafts.owned(slug) is not None,
            runs,
            timeout_s,
        )

    # -- schedules and health --------------------------------------------------------------------

    def schedules(
        self, action: str, *, schedule_id: str | None = None, workflow: str | None = None
    ) -> Any:
        from workspace.runtime.scheduler import ScheduleControl

        control = ScheduleControl(self._ws)
        if action == "list":
            mine = {w.id for w in self._workflows()}
            wf_id = self._owned(workflow).id if workflow else None
            return [
                _schedule(s)
                for s in self._ws.store.schedules.list(workflow_id=wf_id, limit=1000)
                if s.workflow_id in mine
            ]
        if action not in ("pause", "resume"):
            raise self._fail(f"unknown action {action!r} (list, pause, resume)", "bad_action")
        if not schedule_id:
            raise self._fail(f"{action} needs a schedule_id", "missing_schedule")
        try:
            current = self._ws.store.schedules.get(schedule_id)
        except NotFoundError:
            current = None
        if current is None or self._drafts.owned(current.workflow_slug) is None:
            raise self._fail(f"schedule {schedule_id!r} not found", "schedule_not_found")
        changed = control.pause(schedule_id) if action == "pause" else control.resume(schedule_id)
        return _schedule(changed)

    def health(self) -> dict[str, Any]:
        ws = self._ws
        try:
            ws.store.workflows.list(limit=1)
            database = "ok"
        except PlaitError as exc:
            database = f"error: {exc.message}"
        workers = ws.store.workers.alive(within_s=ws.settings.runtime.heartbeat_s * 5)
        mine = {w.id for w in self._workflows()}
        active = {
            status.value: sum(
                1 for r in ws.store.runs.list(status=status, limit=1000) if r.workflow_id in mine
            )
            for status in _ACTIVE
        }
        return {
            "status": "ok" if database == "ok" else "degraded",
            "database": database,
            "queue": "workers" if ws.queue is not None else "inline (this process)",
            "workers_alive": len(workers),
            "runs_in_flight": active,
            "models": [r.name for r in ws.models.reach(self._owner)],
            "memory_embedder": getattr(ws.memory.embedder, "name", None),
            "web_search": getattr(ws.engine.services.search, "name", None),
        }

    # -- the allow-listed API ------------------------------------------------------------------

    def operations(self) -> list[str]:
        return sorted(self._ops)

    def api(self, operation: str, params: Mapping[str, Any]) -> Any:
        op = self._ops.get(operation)
        if op is None:
            raise self._fail(
                f"operation {operation!r} is not allowed; allowed: {', '.join(self.operations())}",
                "unknown_operation",
            )
        return op(params)

    def _get_workflow(self, p: Mapping[str, Any]) -> dict[str, Any]:
        wf = self._owned(p.get("slug"))
        return {
            "slug": wf.slug,
            "name": wf.name,
            "description": wf.description,
            "dsl": self._ws.export(wf.slug),
            "triggers": self._triggers(wf),
        }

    def _versions(self, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        wf = self._owned(p.get("slug"))
        return [
            {
                "number": v.number,
                "author": v.author,
                "message": v.message,
                "created_at": v.created_at.isoformat(),
            }
            for v in self._ws.store.workflows.list_versions(wf.id)
        ]

    def _list_runs(self, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        limit = max(1, min(int(p.get("limit", 20)), 100))
        status = RunStatus(p["status"]) if p.get("status") else None
        if p.get("workflow"):
            ids = {self._owned(p["workflow"]).id}
        else:
            ids = {w.id for w in self._workflows()}
        found = [
            r for r in self._ws.store.runs.list(status=status, limit=1000) if r.workflow_id in ids
        ]
        return [_run(r) for r in found[:limit]]

    def _get_run(self, p: Mapping[str, Any]) -> dict[str, Any]:
        try:
            run = self._ws.store.runs.get(str(p.get("run_id")))
        except NotFoundError:
            run = None
        if run is None or run.workflow_id not in {w.id for w in self._workflows()}:
            raise self._fail(f"run {p.get('run_id')!r} not found", "run_not_found")
        steps = [
            {"node_id": s.node_id, "status": s.status.value, "error": s.error}
            for s in self._ws.store.runs.list_steps(run.id)
        ]
        return {**_run(run), "output": run.output, "steps": steps}

    def _node_types(self) -> list[dict[str, Any]]:
        registry = self._ws.registry
        return [
            {
                "name": n,
                "category": registry.get(n).category,
                "description": registry.get(n).spec().description,
            }
            for n in registry.names()
        ]

    def _node_type(self, p: Mapping[str, Any]) -> dict[str, Any]:
        name = str(p.get("name"))
        if name not in self._ws.registry:
            raise self._fail(f"no node type {name!r}", "unknown_node_type")
        return self._ws.registry.get(name).spec().model_dump(mode="json")
