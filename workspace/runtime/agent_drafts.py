"""Workflows written by agents (SPEC §10 guardrails): ``create`` saves a DSL document as a NEW
workflow's draft, ``patch`` forks-and-patches a workflow into a draft. Nothing is published;
every draft records its author ``agent:<workflow>.<node>``; only the owner's workflows are
seen (also by ``based_on:``); a human's draft is never overwritten — it is forked instead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workspace import dsl
from workspace.domain.graph import WorkflowGraph
from workspace.domain.workflow import Workflow
from workspace.dsl.exporter import dump_yaml
from workspace.errors import DSLError, NodeError, NotFoundError

if TYPE_CHECKING:
    from workspace.runtime.workspace import Workspace

__all__ = ["AGENT_AUTHOR_PREFIX", "AgentDrafts"]

AGENT_AUTHOR_PREFIX = "agent:"


class AgentDrafts:
    def __init__(self, ws: Workspace, *, owner: str | None, author: str, node_id: str) -> None:
        self._ws = ws
        self._owner = owner
        self._author = author
        self._node = node_id

    def _fail(self, message: str, code: str, **details: Any) -> NodeError:
        return NodeError(message, code=code, node_id=self._node, retryable=False, **details)

    def owned(self, slug: str) -> Workflow | None:
        """The owner's workflow ``slug`` (None for another owner's: it does not exist here)."""
        wf = self._ws.store.workflows.find(slug)
        return wf if wf is not None and wf.owner == self._owner else None

    def current_graph(self, wf: Workflow) -> WorkflowGraph:
        draft = self._ws.store.workflows.get_draft(wf.id)
        if draft is not None:
            return draft.graph
        return self._ws.store.workflows.get_version(wf.id).graph

    def _base(self, slug: str) -> WorkflowGraph | None:
        wf = self.owned(slug)
        if wf is None:
            return None
        try:
            return self.current_graph(wf)
        except NotFoundError:
            return None

    def _compile(self, text: str, filename: str) -> dsl.CompiledWorkflow:
        try:
            return dsl.compile_document(
                text, self._ws.registry, draft=True, get_base=self._base, filename=filename
            )
        except DSLError as exc:
            raise self._fail(
                f"the workflow is not valid:\n{exc.message}",
                "dsl_invalid",
                problems=[p.to_dict() for p in exc.problems],
            ) from None

    def _result(self, wf: Workflow, compiled: dsl.CompiledWorkflow, **extra: Any) -> dict[str, Any]:
        return {
            "output": f"saved the draft of workflow {wf.slug!r} (not published)",
            "slug": wf.slug,
            "draft": True,
            "author": self._author,
            "steps": [n.id for n in compiled.graph.nodes],
            "missing": compiled.missing,
            **extra,
        }

    def create(self, text: str) -> dict[str, Any]:
        compiled = self._compile(text, "<agent draft>")
        meta = compiled.meta
        repo = self._ws.store.workflows
        if repo.find(meta.slug) is not None:
            raise self._fail(
                f"workflow {meta.slug!r} exists: choose another slug, or change it with "
                "workflow_patch",
                "workflow_exists",
            )
        wf = repo.create(
            Workflow(
                slug=meta.slug,
                name=meta.name,
                description=meta.description or "",
                tags=tuple(meta.tags or ()),
                owner=self._owner,
            )
        )
        repo.save_draft(wf.id, compiled.graph, text, author=self._author)
        return self._result(wf, compiled)

    def patch(
        self, slug: str, patches: Sequence[Mapping[str, Any]], *, into: str | None
    ) -> dict[str, Any]:
        source = self.owned(slug)
        if source is None:
            raise self._fail(f"workflow {slug!r} not found", "workflow_not_found")
        repo = self._ws.store.workflows
        target_slug = into or slug
        target = repo.find(target_slug)
        if target is not None:
            if target.owner != self._owner:
                raise self._fail(f"workflow {target_slug!r} exists", "workflow_exists")
            draft = repo.get_draft(target.id)
            author = draft.author if draft is not None else None
            if not (author or "").startswith(AGENT_AUTHOR_PREFIX):
                raise self._fail(
                    f"the draft of {target_slug!r} is not an agent's: fork it with `into` "
                    "(a new slug) instead of changing it",
                    "not_agent_draft",
                )
        fork: dict[str, Any] = {
            "name": target.name if target else f"{source.name} (patched)",
            "slug": target_slug,
            "based_on": slug,
            "patches": [dict(p) for p in patches],
        }
        if source.description:
            fork["description"] = source.description
        compiled = self._compile(dump_yaml(fork), f"<patch of {slug}>")
        if target is None:
            target = repo.create(
                Workflow(
                    slug=target_slug,
                    name=str(fork["name"]),
                    description=source.description,
                    tags=source.tags,
                    owner=self._owner,
                )
            )
        try:
            text = dsl.export_dsl(target, compiled.graph, self._ws.registry)
        except DSLError:
            text = dump_yaml(fork)
        repo.save_draft(target.id, compiled.graph, text, author=self._author)
        return self._result(target, compiled, based_on=slug)
