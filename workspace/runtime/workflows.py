"""Saving, publishing and exporting workflows: the DSL on one side, the store on the other."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from typing import Any

from workspace import dsl
from workspace.domain.diff import graph_diff
from workspace.domain.graph import WorkflowGraph
from workspace.domain.ports import Store
from workspace.domain.workflow import Draft, Version, Workflow
from workspace.errors import ConflictError, DSLError, NotFoundError, ValidationError
from workspace.runtime.scheduler.sync import ScheduleSync
from workspace.sdk.registry import NodeRegistry


class WorkflowService:
    def __init__(self, store: Store, registry: NodeRegistry) -> None:
        self.store = store
        self.registry = registry
        #: publishing a version syncs the workflow's schedules with it
        self.schedule_sync = ScheduleSync(store, registry)

    def _base(self, slug: str) -> str:
        """The DSL of a workflow's latest version (for ``based_on:``)."""
        return self.export(slug)

    def _known(self) -> set[str]:
        return {w.slug for w in self.store.workflows.list(limit=10_000)}

    def validate(self, text: str, *, draft: bool = False, filename: str = "<dsl>") -> Any:
        return dsl.validate(
            text,
            self.registry,
            draft=draft,
            filename=filename,
            get_base=self._base,
            known_workflows=self._known(),
        )

    def save(
        self, text: str, *, draft: bool = False, filename: str = "<dsl>", owner: str | None = None
    ) -> Workflow:
        """Compile (raising DSLError with every problem) and store as the workflow's draft."""
        compiled = dsl.compile_document(
            text, self.registry, draft=draft, filename=filename, get_base=self._base
        )
        meta = compiled.meta
        repo = self.store.workflows
        wf = repo.find(meta.slug)
        if wf is None:
            wf = repo.create(
                Workflow(
                    slug=meta.slug,
                    name=meta.name,
                    description=meta.description or "",
                    tags=tuple(meta.tags or ()),
                    owner=owner,
                )
            )
        else:
            wf = repo.update(
                wf.model_copy(
                    update={
                        "name": meta.name,
                        "description": meta.description or "",
                        "tags": tuple(meta.tags or ()),
                    }
                )
            )
        repo.save_draft(wf.id, compiled.graph, text)
        return wf

    def publish(
        self,
        slug: str,
        *,
        message: str = "",
        author: str | None = None,
        only_if_changed: bool = False,
    ) -> Version:
        repo = self.store.workflows
        wf = repo.get(slug)
        draft = repo.get_draft(wf.id)
        if draft is None:
            raise NotFoundError(f"workflow {slug!r} has no draft to publish", code="no_draft")
        missing = dsl.missing_content(draft.graph, self.registry)
        if missing:
            raise ValidationError(
                f"workflow {slug!r} is incomplete: {missing}",
                code="incomplete_workflow",
                missing=missing,
            )
        if only_if_changed:
            try:
                latest = repo.get_version(wf.id)
            except NotFoundError:
                latest = None
            if latest is not None and latest.content_hash == draft.graph.content_hash():
                self.schedule_sync.sync(wf, latest)
                return latest
        version = repo.add_version(
            Version.of(wf.id, draft.graph, dsl=draft.dsl, author=author, message=message)
        )
        self.schedule_sync.sync(wf, version)
        return version

    def export(self, slug: str, *, format: str = "yaml", version: int | None = None) -> str:
        repo = self.store.workflows
        wf = repo.get(slug)
        try:
            graph = repo.get_version(wf.id, version).graph
        except NotFoundError:
            if version is not None:
                raise
            graph = self.draft(slug).graph
        return self.render(wf, graph, format=format)

    def render(self, wf: Workflow, graph: WorkflowGraph, *, format: str = "yaml") -> str:
        """A graph of ``wf`` as DSL (``yaml``) or JSON."""
        meta = dsl.WorkflowMeta(
            slug=wf.slug, name=wf.name, description=wf.description, tags=list(wf.tags)
        )
        if format == "json":
            return json.dumps(dsl.export_json(meta, graph, self.registry), indent=2)
        if format != "yaml":
            raise ConflictError(f"unknown export format {format!r}", code="bad_format")
        return dsl.export_dsl(meta, graph, self.registry)

    def draft(self, slug: str) -> Draft:
        wf = self.store.workflows.get(slug)
        draft = self.store.workflows.get_draft(wf.id)
        if draft is None:
            raise NotFoundError(f"workflow {slug!r} has no draft", code="no_draft")
        return draft

    def _graph(self, wf: Workflow, which: int | str) -> WorkflowGraph:
        if which == "draft":
            return self.draft(wf.slug).graph
        if isinstance(which, str):
            if not which.isdigit():
                raise ValidationError(
                    f"a version is a number or 'draft', not {which!r}", code="bad_version"
                )
            which = int(which)
        return self.store.workflows.get_version(wf.id, which).graph

    def diff(self, slug: str, a: int | str, b: int | str = "draft") -> dict[str, Any]:
        """What changed from ``a`` to ``b`` (version numbers or ``"draft"``): the DSL text
        diff and the structural diff (SPEC §2)."""
        wf = self.store.workflows.get(slug)
        before, after = self._graph(wf, a), self._graph(wf, b)
        text = "".join(
            difflib.unified_diff(
                self.render(wf, before).splitlines(keepends=True),
                self.render(wf, after).splitlines(keepends=True),
                fromfile=f"{slug}@{a}",
                tofile=f"{slug}@{b}",
            )
        )
        return {"from": a, "to": b, "text": text, **graph_diff(before, after).to_dict()}

    def rollback(self, slug: str, number: int, *, author: str | None = None) -> Version:
        """Publish version ``number``'s content as a new version (and make it the draft)."""
        repo = self.store.workflows
        wf = repo.get(slug)
        old = repo.get_version(wf.id, number)
        text = self.render(wf, old.graph)
        repo.save_draft(wf.id, old.graph, text)
        version = repo.add_version(
            Version.of(
                wf.id, old.graph, dsl=text, author=author, message=f"rollback to version {number}"
            )
        )
        self.schedule_sync.sync(wf, version)
        return version

    def edit_draft(
        self, slug: str, change: Callable[[WorkflowGraph], WorkflowGraph]
    ) -> WorkflowGraph:
        """Apply ``change`` to the draft's graph; the result is validated (as a draft: content
        may be missing) with every problem reported, and stored with its DSL re-exported."""
        wf = self.store.workflows.get(slug)
        graph = change(self.draft(slug).graph)
        report = dsl.validate_graph(graph, self.registry, draft=True, known_workflows=self._known())
        if report.errors:
            raise DSLError(report.errors, filename=f"{slug} (draft)")
        self.store.workflows.save_draft(wf.id, graph, self.render(wf, graph))
        return graph
