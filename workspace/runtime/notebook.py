"""Workflows as notebooks: ``%%step`` cells patch a draft; a workflow exports to an ``.ipynb``
(description, a ``%%workflow`` skeleton cell, one ``%%step`` cell per step) and imports back
to the identical graph.

The notebook JSON is nbformat 4.5 written by hand (plain dicts); the kernel extension runs the
same cells with the same meaning, so executing an exported notebook and ``import_notebook``
build the same graph.
"""

from __future__ import annotations

import json
import shlex
import uuid
from dataclasses import dataclass
from typing import Any

import yaml

from workspace import dsl
from workspace.domain.graph import WorkflowGraph
from workspace.domain.ports import Store
from workspace.domain.workflow import Version, Workflow
from workspace.dsl.cells import cell_source, split_workflow, step_patches
from workspace.dsl.exporter import dump_yaml
from workspace.errors import DSLError, NotFoundError, ValidationError
from workspace.runtime.workflows import WorkflowService
from workspace.sdk.registry import NodeRegistry

NBFORMAT, NBFORMAT_MINOR = 4, 5


@dataclass(frozen=True)
class Cell:
    """A parsed ``%%workflow`` / ``%%step`` cell."""

    magic: str  # "workflow" | "step"
    slug: str
    body: str
    step_id: str | None = None
    type: str | None = None
    after: str | None = None
    draft: bool = False
    publish: bool = False


@dataclass(frozen=True)
class ImportedNotebook:
    workflow: Workflow
    version: Version | None
    cells: int


def with_slug(text: str, slug: str) -> str:
    """The document of a ``%%workflow SLUG`` cell: ``slug``/``name`` added at the end when the
    document names neither (lines keep their numbers)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return text  # validation reports the syntax error with its position
    if isinstance(data, dict) and not data.get("name") and not data.get("slug"):
        return f"{text.rstrip(chr(10))}\nslug: {slug}\nname: {slug}\n"
    return text


def check_slug(report_slug: str | None, slug: str) -> None:
    if report_slug is not None and report_slug != slug:
        raise ValidationError(
            f"the cell names workflow {slug!r} but the document's slug is {report_slug!r}",
            code="slug_mismatch",
        )


def parse_cell(source: str) -> Cell | None:
    """A ``%%workflow`` / ``%%step`` cell, or None for any other cell."""
    first, _, body = source.partition("\n")
    if not first.startswith(("%%workflow", "%%step")):
        return None
    try:
        words = shlex.split(first)
    except ValueError as exc:
        raise ValidationError(f"cannot read {first!r}: {exc}", code="bad_cell") from None
    magic, args = words[0][2:], words[1:]
    if magic not in ("workflow", "step"):
        return None
    opts: dict[str, Any] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--draft", "--publish") and magic == "workflow":
            opts[arg[2:]] = True
        elif arg in ("--type", "--after") and magic == "step" and i + 1 < len(args):
            opts[arg[2:]] = args[i + 1]
            i += 1
        elif arg.startswith("-"):
            raise ValidationError(f"unknown option {arg!r} in {first!r}", code="bad_cell")
        else:
            positional.append(arg)
        i += 1
    if len(positional) != 1:
        raise ValidationError(f"{first!r}: expected one name", code="bad_cell")
    if magic == "workflow":
        return Cell("workflow", positional[0], body, **opts)
    slug, dot, step_id = positional[0].partition(".")
    if not dot or not slug or not step_id:
        raise ValidationError(f"{first!r}: expected NAME.STEP_ID", code="bad_cell")
    return Cell("step", slug, body, step_id=step_id, **opts)


class NotebookService:
    def __init__(self, store: Store, workflows: WorkflowService, registry: NodeRegistry) -> None:
        self.store = store
        self.workflows = workflows
        self.registry = registry

    # -- the draft ---------------------------------------------------------------------------

    def graph(self, slug: str, *, draft: bool = True) -> WorkflowGraph:
        """The workflow's draft graph (else its latest version's)."""
        repo = self.store.workflows
        wf = repo.get(slug)
        if draft:
            current = repo.get_draft(wf.id)
            if current is not None:
                return current.graph
        return repo.get_version(wf.id).graph

    def save_step(
        self,
        slug: str,
        step_id: str,
        body: str,
        *,
        type: str | None = None,
        after: str | None = None,
    ) -> Workflow:
        """Make ``body`` the content of step ``step_id`` of the workflow's draft (the step is
        added when it does not exist), through fork-and-patch. Idempotent."""
        wf = self.store.workflows.get(slug)
        base = self.graph(slug)
        patches = step_patches(base, self.registry, step_id, body, type=type, after=after)
        fork: dict[str, Any] = {
            "name": wf.name,
            "slug": wf.slug,
            "based_on": wf.slug,
            "patches": patches,
        }
        if wf.description:
            fork["description"] = wf.description
        if wf.tags:
            fork["tags"] = list(wf.tags)
        text = dump_yaml(fork)

        def get_base(name: str) -> Any:
            return base if name == wf.slug else self.workflows.export(name)

        compiled = dsl.compile_document(
            text, self.registry, draft=True, get_base=get_base, filename=f"{slug}.{step_id}"
        )
        try:
            stored = dsl.export_dsl(wf, compiled.graph, self.registry)
        except DSLError:
            stored = text
        self.store.workflows.save_draft(wf.id, compiled.graph, stored)
        return wf

    # -- notebooks ---------------------------------------------------------------------------

    def export_notebook(self, slug: str, *, version: int | None = None) -> dict[str, Any]:
        """The workflow (a version, else the latest, else the draft) as notebook JSON."""
        wf = self.store.workflows.get(slug)
        try:
            ver: Version | None = self.store.workflows.get_version(wf.id, version)
            graph = ver.graph if ver else None
        except NotFoundError:
            if version is not None:
                raise
            ver, graph = None, None
        if graph is None:
            graph = self.graph(slug)
        parts = split_workflow(wf, graph, self.registry)
        intro = f"# {parts.name}\n"
        if parts.description:
            intro += f"\n{parts.description}\n"
        intro += (
            f"\nWorkflow `{slug}`"
            + (f", version {ver.number}" if ver else " (draft)")
            + ". Run the cells top to bottom to rebuild it in the connected workspace, or "
            "`plait notebook import` this file."
        )
        cells = [
            _markdown(intro),
            _code("%load_ext kernel_ext\n%plait connect"),
            _code(f"%%workflow {slug} --draft\n{parts.skeleton.rstrip(chr(10))}"),
        ]
        for step in parts.steps:
            head = f"%%step {slug}.{step.step_id} --type {step.type}"
            cells.append(_code(f"{head}\n{cell_source(step.body)}"))
        if ver is not None:
            cells.append(_code(f"%plait publish {slug}"))
        return {
            "cells": cells,
            "metadata": {
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                "language_info": {"name": "python"},
                "plait": {"workflow": slug, "version": ver.number if ver else None},
            },
            "nbformat": NBFORMAT,
            "nbformat_minor": NBFORMAT_MINOR,
        }

    def import_notebook(
        self,
        notebook: dict[str, Any] | str,
        *,
        publish: bool = True,
        owner: str | None = None,
    ) -> ImportedNotebook:
        """Run a notebook's ``%%workflow`` and ``%%step`` cells in order (other cells are
        ignored), then publish unless ``publish`` is False."""
        cells = [c for c in (parse_cell(src) for src in _sources(notebook)) if c is not None]
        workflows = [c for c in cells if c.magic == "workflow"]
        if not workflows:
            raise ValidationError("the notebook has no %%workflow cell", code="no_workflow_cell")
        slug = workflows[0].slug
        for cell in cells:
            if cell.slug != slug:
                raise ValidationError(
                    f"the notebook defines {slug!r} but a cell names {cell.slug!r}",
                    code="slug_mismatch",
                )
        wf: Workflow | None = None
        for cell in cells:
            if cell.magic == "workflow":
                text = with_slug(cell.body, slug)
                report = self.workflows.validate(text, draft=True, filename=f"%%workflow {slug}")
                check_slug(report.meta.slug if report.meta else None, slug)
                wf = self.workflows.save(
                    text, draft=True, filename=f"%%workflow {slug}", owner=owner
                )
            else:
                if wf is None:
                    raise ValidationError(
                        f"%%step {slug}.{cell.step_id} comes before the %%workflow cell",
                        code="bad_cell",
                    )
                assert cell.step_id is not None
                self.save_step(slug, cell.step_id, cell.body, type=cell.type, after=cell.after)
        assert wf is not None
        version = (
            self.workflows.publish(slug, author=owner, only_if_changed=True) if publish else None
        )
        return ImportedNotebook(self.store.workflows.get(slug), version, len(cells))


def _sources(notebook: dict[str, Any] | str) -> list[str]:
    data = notebook
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"not a notebook: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                code="bad_notebook",
            ) from None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        raise ValidationError("not a notebook: no `cells` list", code="bad_notebook")
    out: list[str] = []
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict):
            raise ValidationError(f"not a notebook: cell {i} is not an object", code="bad_notebook")
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise ValidationError(
                f"not a notebook: cell {i} has no text source", code="bad_notebook"
            )
        out.append(source)
    return out


def _markdown(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": uuid.uuid4().hex[:8], "metadata": {}, "source": text}


def _code(text: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": uuid.uuid4().hex[:8],
        "metadata": {},
        "outputs": [],
        "source": text,
    }
