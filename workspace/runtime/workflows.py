"""Saving, publishing and exporting workflows: the DSL on one side, the store on the other."""

from __future__ import annotations

import json
from typing import Any

from workspace import dsl
from workspace.domain.ports import Store
from workspace.domain.workflow import Version, Workflow
from workspace.errors import ConflictError, NotFoundError, ValidationError
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
            draft = repo.get_draft(wf.id)
            if draft is None:
                raise
            graph = draft.graph
        meta = dsl.WorkflowMeta(
            slug=wf.slug, name=wf.name, description=wf.description, tags=list(wf.tags)
        )
        if format == "json":
            return json.dumps(dsl.export_json(meta, graph, self.registry), indent=2)
        if format != "yaml":
            raise ConflictError(f"unknown export format {format!r}", code="bad_format")
        return dsl.export_dsl(meta, graph, self.registry)
