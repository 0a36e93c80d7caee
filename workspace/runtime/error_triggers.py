"""``ErrorTriggers``: a failed run starts the workflows that watch it (SPEC §3 ``trigger_error``,
§4.4).

Watchers are derived from published versions, so nothing extra is stored: every workflow whose
LATEST published version has a ``trigger_error`` node whose ``workflows`` names the failed run's
workflow slug, or ``*``. A watcher must have the same owner as the failed workflow (``*`` means
"every workflow of my owner"; a slug of somebody else's workflow does not let you read its
errors). Each watcher gets one run from its trigger with the payload
``{"workflow", "run_id", "error": {"code", "message"}, "node_id"}``.

Exactly once: the engine stores these runs in the SAME transaction as the failure (the
:class:`~workspace.engine.services.FailureHook`), and a run becomes ``failed`` only once. After
the commit they are handed to the workers (or driven in a thread inline); if the process dies
first, they are queued runs nobody claimed and the sweeper re-enqueues them.

No loops: a run started by an error trigger — or a sub-workflow run below one — fires no error
triggers when it fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workspace.domain.events import Event, EventType, run_event
from workspace.domain.run import Run
from workspace.errors import NotFoundError, PlaitError

if TYPE_CHECKING:
    from workspace.runtime.workspace import Workspace

log = logging.getLogger(__name__)

ERROR_TRIGGER_TYPE = "trigger_error"
WATCH_ALL = "*"
_PAGE = 500


@dataclass(frozen=True)
class Watcher:
    """A ``trigger_error`` node of a workflow's latest published version."""

    slug: str
    owner: str | None
    version: int
    trigger_id: str
    watches: tuple[str, ...]

    def watches_run_of(self, slug: str, owner: str | None) -> bool:
        return self.owner == owner and (WATCH_ALL in self.watches or slug in self.watches)


class ErrorTriggers:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    # -- FailureHook ---------------------------------------------------------------------------

    def runs_for(self, run: Run, error: dict[str, Any]) -> list[tuple[Run, Event]]:
        """The queued runs (with their ``run_queued`` events) the failure of ``run`` starts."""
        if self.started_by_error_trigger(run):
            return []
        failed = self.ws.store.workflows.find(run.workflow_slug)
        if failed is None or failed.id != run.workflow_id:
            return []  # the workflow was deleted meanwhile: nobody can watch it
        payload = {
            "workflow": run.workflow_slug,
            "run_id": run.id,
            "error": {"code": error.get("code"), "message": error.get("message")},
            "node_id": error.get("node_id"),
        }
        out: list[tuple[Run, Event]] = []
        for watcher in self.watchers(run.workflow_slug, failed.owner):
            try:
                child = self.ws.prepare_run(
                    watcher.slug,
                    payload,
                    trigger=watcher.trigger_id,
                    version=watcher.version,
                    user=run.user,
                )
            except PlaitError as exc:  # e.g. the watcher cannot compile: the others still fire
                log.warning(
                    "error trigger %s/%s not fired for run %s: %s",
                    watcher.slug,
                    watcher.trigger_id,
                    run.id,
                    exc,
                )
                continue
            queued = run_event(
                child, EventType.RUN_QUEUED, trigger=child.trigger_id, error_of=run.id
            )
            out.append((child, queued))
        return out

    def stored(self, runs: list[Run]) -> None:
        """The runs are stored with the failure: start them (workers, else a thread here)."""
        for child in runs:
            self.ws.submit(child)

    # -- watchers ------------------------------------------------------------------------------

    def watchers(self, slug: str, owner: str | None) -> list[Watcher]:
        """The error triggers watching runs of workflow ``slug`` owned by ``owner``."""
        return [w for w in self._all(owner) if w.watches_run_of(slug, owner)]

    def _all(self, owner: str | None) -> list[Watcher]:
        # read fresh at every failure — one query per page of the owner's workflows with their
        # latest version numbers; the versions' graphs are cached by number — so a watcher
        # published a moment ago is never missed
        store = self.ws.store.workflows
        found: list[Watcher] = []
        offset = 0
        while True:
            page = store.list_latest(owner=owner, limit=_PAGE, offset=offset)
            for wf, number in page:
                if number is None or wf.owner != owner:
                    continue  # never published; another owner's (owner None lists all)
                graph = self.ws.version(wf.id, number).graph
                for node in graph.nodes:
                    if node.type == ERROR_TRIGGER_TYPE:
                        watches = tuple(str(s) for s in node.config.get("workflows") or ())
                        found.append(Watcher(wf.slug, wf.owner, number, node.id, watches))
            if len(page) < _PAGE:
                return found
            offset += _PAGE

    def started_by_error_trigger(self, run: Run) -> bool:
        """Whether ``run`` (or the run it is a sub-workflow of, up the chain) was started by
        an error trigger."""
        seen: set[str] = set()
        current: Run | None = run
        while current is not None and current.id not in seen:
            seen.add(current.id)
            try:
                graph = self.ws.graph_of(current)
            except NotFoundError:
                return False
            trigger = next((n for n in graph.nodes if n.id == current.trigger_id), None)
            if trigger is not None and trigger.type == ERROR_TRIGGER_TYPE:
                return True
            parent = current.parent_run_id
            current = self.ws.store.runs.get(parent) if parent else None
        return False
