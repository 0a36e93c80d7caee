"""``RunPlanner``: the run a request asks for — which version, which trigger, validated
(complete, compiles, a valid budget) — before anything is stored; and the published versions
runs are pinned to (immutable, so cached)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from workspace import dsl
from workspace.domain.graph import WorkflowGraph
from workspace.domain.ports import Store
from workspace.domain.run import Run
from workspace.domain.usage import Budget
from workspace.domain.workflow import Version, Workflow
from workspace.errors import NotFoundError, ValidationError
from workspace.sdk.registry import NodeRegistry

__all__ = ["RunPlanner"]


class RunPlanner:
    def __init__(
        self,
        store: Store,
        registry: NodeRegistry,
        compile: Callable[[WorkflowGraph, str, str], Any],
        *,
        cache_size: int,
    ) -> None:
        """``compile(graph, trigger_id, content_hash)`` raises on a graph that cannot run."""
        self.store = store
        self.registry = registry
        self._compile = compile
        self._cache_size = cache_size
        self._versions: dict[tuple[str, int], Version] = {}

    def version(self, workflow_id: str, number: int) -> Version:
        """A published version; immutable, so cached by workflow id and number."""
        key = (workflow_id, number)
        ver = self._versions.get(key)
        if ver is None:
            ver = self.store.workflows.get_version(workflow_id, number)
            if len(self._versions) >= self._cache_size:
                self._versions.pop(next(iter(self._versions)))
            self._versions[key] = ver
        return ver

    def graph_of(self, run: Run) -> WorkflowGraph:
        """The graph of the version the run is pinned to."""
        return self.version(run.workflow_id, run.version_number).graph

    def prepare(
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
        """A run of the workflow, validated but not stored."""
        wf, latest = self.head(slug)
        return self.prepare_for(
            wf,
            version or latest,
            input,
            trigger=trigger,
            user=user,
            thread=thread,
            parent_run_id=parent_run_id,
        )

    def head(self, slug: str) -> tuple[Workflow, int]:
        """The workflow and its latest version number (one read). NotFoundError when there is
        no such workflow (code ``not_found``) or it was never published (``not_published``)."""
        found = self.store.workflows.find_latest(slug)
        if found is None:
            raise NotFoundError(f"workflow {slug!r} not found", slug=slug)
        wf, latest = found
        if latest is None:
            raise NotFoundError(
                f"workflow {slug!r} is not published", code="not_published", slug=slug
            )
        return wf, latest

    def prepare_for(
        self,
        wf: Workflow,
        number: int,
        input: Any = None,
        *,
        trigger: str | None = None,
        user: str | None = None,
        thread: str | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        """A run of version ``number`` of ``wf``, validated but not stored."""
        slug = wf.slug
        ver = self.version(wf.id, number)
        missing = dsl.missing_content(ver.graph, self.registry)
        if missing:
            raise ValidationError(
                f"workflow {slug!r} is incomplete: {missing}",
                code="incomplete_workflow",
                missing=missing,
            )
        budget = ver.graph.settings.get("budget")
        if budget is not None:
            try:
                Budget.model_validate(budget)
            except PydanticValidationError as exc:
                raise ValidationError(
                    f"workflow {slug!r} has an invalid budget: {exc.errors()[0]['msg']}",
                    code="bad_budget",
                ) from None
        trigger_id = trigger or self.default_trigger(ver.graph, slug)
        self._compile(ver.graph, trigger_id, ver.content_hash)  # compile errors: no run yet
        return Run(
            workflow_id=wf.id,
            workflow_slug=wf.slug,
            version_number=ver.number,
            version_hash=ver.content_hash,
            trigger_id=trigger_id,
            input=input,
            parent_run_id=parent_run_id,
            user=user,
            thread_id=thread,
        )

    @staticmethod
    def rerun_of(old: Run, from_node: str) -> Run:
        """The new run of a re-run of ``old`` from ``from_node`` (same version and input)."""
        return Run(
            workflow_id=old.workflow_id,
            workflow_slug=old.workflow_slug,
            version_number=old.version_number,
            version_hash=old.version_hash,
            trigger_id=old.trigger_id,
            input=old.input,
            rerun_of=old.id,
            rerun_from_node=from_node,
            user=old.user,
            thread_id=old.thread_id,
        )

    def default_trigger(self, graph: WorkflowGraph, slug: str) -> str:
        for node in graph.nodes:
            if node.type in self.registry and self.registry.get(node.type).is_trigger:
                return node.id
        raise ValidationError(f"workflow {slug!r} has no trigger", code="no_trigger")
