"""``WorkflowRepository`` in memory (the contract suite's reference): workflows, drafts and
versions behind the memory store's lock. Graphs are copied in and out, so a caller never holds
the stored object."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from workspace.domain.graph import WorkflowGraph
from workspace.domain.workflow import Draft, Version, Workflow, utcnow
from workspace.errors import ConflictError, NotFoundError
from workspace.store._codec import utc

if TYPE_CHECKING:
    from workspace.store.memory import _Data

__all__ = ["MemoryWorkflowRepository"]


def _graph_copy(graph: WorkflowGraph) -> WorkflowGraph:
    return WorkflowGraph.model_validate(graph.model_dump(mode="json"))


class MemoryWorkflowRepository:
    def __init__(self, data: _Data) -> None:
        self._d = data

    def create(self, workflow: Workflow) -> Workflow:
        stored = workflow.model_copy(
            deep=True,
            update={"created_at": utc(workflow.created_at), "updated_at": utc(workflow.updated_at)},
        )
        with self._d.lock:
            if stored.slug in self._d.slugs:
                raise ConflictError(
                    f"a workflow with slug {stored.slug!r} already exists", slug=stored.slug
                )
            if stored.id in self._d.workflows:
                raise ConflictError(
                    f"a workflow with id {stored.id!r} already exists", id=stored.id
                )
            self._d.workflows[stored.id] = stored
            self._d.slugs[stored.slug] = stored.id
        return stored.model_copy()

    def get(self, slug: str) -> Workflow:
        found = self.find(slug)
        if found is None:
            raise NotFoundError(f"workflow {slug!r} not found", slug=slug)
        return found

    def get_by_id(self, workflow_id: str) -> Workflow:
        with self._d.lock:
            found = self._d.workflows.get(workflow_id)
        if found is None:
            raise NotFoundError(f"workflow id {workflow_id!r} not found", id=workflow_id)
        return found.model_copy()

    def find(self, slug: str) -> Workflow | None:
        with self._d.lock:
            workflow_id = self._d.slugs.get(slug)
            found = None if workflow_id is None else self._d.workflows[workflow_id]
        return None if found is None else found.model_copy()

    def find_latest(self, slug: str) -> tuple[Workflow, int | None] | None:
        with self._d.lock:
            workflow_id = self._d.slugs.get(slug)
            if workflow_id is None:
                return None
            found = self._d.workflows[workflow_id]
            count = len(self._d.versions.get(workflow_id, ()))
        return found.model_copy(), count or None

    def list(
        self, *, owner: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Workflow]:
        with self._d.lock:
            items = sorted(self._d.workflows.values(), key=lambda w: w.slug)
        if owner is not None:
            items = [w for w in items if w.owner == owner]
        offset, limit = max(0, offset), max(0, limit)
        return [w.model_copy() for w in items[offset : offset + limit]]

    def list_latest(
        self, *, owner: str | None = None, limit: int = 100, offset: int = 0
    ) -> builtins.list[tuple[Workflow, int | None]]:
        with self._d.lock:
            return [
                (w, len(self._d.versions.get(w.id, ())) or None)
                for w in self.list(owner=owner, limit=limit, offset=offset)
            ]

    def update(self, workflow: Workflow) -> Workflow:
        with self._d.lock:
            current = self._d.workflows.get(workflow.id)
            if current is None:
                raise NotFoundError(f"workflow id {workflow.id!r} not found", id=workflow.id)
            updated = current.model_copy(
                update={
                    "name": workflow.name,
                    "description": workflow.description,
                    "tags": tuple(workflow.tags),
                    "owner": workflow.owner,
                    "updated_at": utcnow(),
                }
            )
            self._d.workflows[workflow.id] = updated
        return updated.model_copy()

    def delete(self, slug: str) -> None:
        with self._d.lock:
            workflow_id = self._d.slugs.pop(slug, None)
            if workflow_id is None:
                raise NotFoundError(f"workflow {slug!r} not found", slug=slug)
            del self._d.workflows[workflow_id]
            self._d.drafts.pop(workflow_id, None)
            self._d.versions.pop(workflow_id, None)
            for schedule_id in [
                k for k, v in self._d.schedules.items() if v.workflow_id == workflow_id
            ]:
                del self._d.schedules[schedule_id]  # as the SQL foreign key cascades

    def save_draft(
        self,
        workflow_id: str,
        graph: WorkflowGraph,
        dsl: str | None = None,
        *,
        author: str | None = None,
    ) -> Draft:
        draft = Draft(
            workflow_id=workflow_id,
            graph=_graph_copy(graph),
            dsl=dsl,
            updated_at=utcnow(),
            author=author,
        )
        with self._d.lock:
            if workflow_id not in self._d.workflows:
                raise NotFoundError(f"workflow id {workflow_id!r} not found", id=workflow_id)
            self._d.drafts[workflow_id] = draft
        return draft.model_copy()

    def get_draft(self, workflow_id: str) -> Draft | None:
        with self._d.lock:
            draft = self._d.drafts.get(workflow_id)
        return None if draft is None else draft.model_copy(deep=True)

    def add_version(self, version: Version) -> Version:
        with self._d.lock:
            if version.workflow_id not in self._d.workflows:
                raise NotFoundError(
                    f"workflow id {version.workflow_id!r} not found", id=version.workflow_id
                )
            existing = self._d.versions.setdefault(version.workflow_id, [])
            stored = version.model_copy(
                update={
                    "number": len(existing) + 1,
                    "graph": _graph_copy(version.graph),
                    "created_at": utc(version.created_at),
                }
            )
            existing.append(stored)
        return stored.model_copy(deep=True)

    def get_version(self, workflow_id: str, number: int | None = None) -> Version:
        with self._d.lock:
            existing = list(self._d.versions.get(workflow_id, ()))
        if number is None and existing:
            return existing[-1].model_copy(deep=True)
        if number is not None and 1 <= number <= len(existing):
            return existing[number - 1].model_copy(deep=True)
        which = "any version" if number is None else f"version {number}"
        raise NotFoundError(
            f"workflow id {workflow_id!r} has no {which}", id=workflow_id, number=number
        )

    def latest_version_number(self, workflow_id: str) -> int:
        with self._d.lock:
            count = len(self._d.versions.get(workflow_id, ()))
        if not count:
            raise NotFoundError(
                f"workflow id {workflow_id!r} has no version", id=workflow_id, number=None
            )
        return count

    def list_versions(self, workflow_id: str) -> builtins.list[Version]:
        with self._d.lock:
            existing = list(self._d.versions.get(workflow_id, ()))
        return [v.model_copy(deep=True) for v in existing]
