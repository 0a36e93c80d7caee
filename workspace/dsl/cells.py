"""Steps as notebook cells: which field a step cell holds, the patch a cell makes, and the split
of a workflow into a skeleton document plus one body per step.

A step's *body field* is its content field (``content_fields``, e.g. a code node's ``code``), or
else the first of ``prompt``, ``system_prompt``, ``template``, ``message``, ``text`` its Config
has. A cell body is stored normalised (:func:`normalise_body`): trailing newlines removed, and
for code fields (the type's ``raw_fields``) exactly one added back, so a body reads the same
whether it came from an ``.ipynb`` file, a kernel (which appends a newline) or a YAML block.
Types without a body field (switch, loop, ...) take a YAML mapping merged into their config.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pydantic_core import PydanticUndefined

from workspace.domain.graph import ATTACHMENT_KINDS, WorkflowGraph
from workspace.dsl import typeinfo as ti
from workspace.dsl.compiler import compile_data
from workspace.dsl.exporter import MetaLike, dump_yaml, export_document, export_dsl
from workspace.dsl.model import BODY_KEY
from workspace.dsl.source import parse_source
from workspace.errors import DSLError, ValidationError
from workspace.sdk import NodeRegistry, NodeType

#: Config fields that hold a step's text, in order of preference (after ``content_fields``).
TEXT_FIELDS = ("prompt", "system_prompt", "template", "message", "text")
#: Step type of a new step whose cell names none.
DEFAULT_STEP_TYPE = "code"


@dataclass(frozen=True)
class StepCell:
    """One ``%%step`` cell: the step, its type and the cell body (the normalised value)."""

    step_id: str
    type: str
    body: str


@dataclass(frozen=True)
class NotebookParts:
    """A workflow split for a notebook: the skeleton DSL (bodies cut out) and the step cells."""

    slug: str
    name: str
    description: str
    skeleton: str
    steps: tuple[StepCell, ...]


def body_field(node_type: NodeType) -> str | None:
    if node_type.content_fields:
        return node_type.content_fields[0]
    fields = node_type.Config.model_fields
    return next((f for f in TEXT_FIELDS if f in fields), None)


def is_code_field(node_type: NodeType, field: str) -> bool:
    return field in node_type.raw_fields


def normalise_body(body: str, *, code: bool) -> str:
    text = body.replace("\r\n", "\n").rstrip("\n")
    return text + "\n" if code and text else text


def cell_source(value: str) -> str:
    """The text of a cell body for a (normalised) value: without its final newline."""
    return value[:-1] if value.endswith("\n") else value


# ---------------------------------------------------------------------------------- patches


def step_patches(
    graph: WorkflowGraph,
    registry: NodeRegistry,
    step_id: str,
    body: str,
    *,
    type: str | None = None,
    after: str | None = None,
) -> list[dict[str, Any]]:
    """The fork-and-patch actions that make ``body`` the content of ``step_id``: an
    ``update_config`` of an existing step (idempotent), else an ``add_step`` after ``after``
    (default: the last step of the graph that is not an attachment)."""
    wanted = None
    if type is not None:
        wanted = ti.resolve_type(registry, type)
        if wanted is None:
            raise ValidationError(
                f"unknown step type {type!r} (types: {', '.join(sorted(registry.names()))})",
                code="unknown_type",
            )
    node = next((n for n in graph.nodes if n.id == step_id), None)
    if node is not None:
        if wanted is not None and wanted != node.type:
            raise ValidationError(
                f"step {step_id!r} is a {node.type} step, not {wanted}: change its type in the "
                "%%workflow cell (or remove the step there) first",
                code="step_type_conflict",
            )
        nt = registry.get(node.type) if node.type in registry else None
        if nt is None:
            raise ValidationError(
                f"step {step_id!r} has an unknown type {node.type!r}", code="unknown_type"
            )
        return [{"action": "update_config", "step_id": step_id, "config": _content(nt, body)}]
    new_type = wanted or DEFAULT_STEP_TYPE
    if new_type not in registry:
        raise ValidationError(f"unknown step type {new_type!r}", code="unknown_type")
    nt = registry.get(new_type)
    if nt.is_trigger:
        raise ValidationError(
            f"{new_type} is a trigger: declare triggers in the %%workflow cell",
            code="invalid_value",
        )
    ids = [n.id for n in graph.nodes]
    if after is not None and after not in ids:
        raise ValidationError(
            f"--after {after!r}: no such step (steps: {', '.join(ids)})",
            code="dangling_reference",
        )
    anchor = after if after is not None else _last_step(graph)
    patch: dict[str, Any] = {
        "action": "add_step",
        "step": {"id": step_id, "type": new_type, **_content(nt, body)},
    }
    if anchor is not None:
        patch["after"] = anchor
    return [patch]


def _content(node_type: NodeType, body: str) -> dict[str, Any]:
    field = body_field(node_type)
    if field is not None:
        return {field: normalise_body(body, code=is_code_field(node_type, field))}
    if not body.strip():
        return {}
    src = parse_source(body)
    errors = [p for p in src.problems if p.severity == "error"]
    if errors and (src.data is None or isinstance(src.data, dict)):
        raise DSLError(errors, filename="<step>")
    if not isinstance(src.data, dict):
        raise ValidationError(
            f"a {node_type.name} step cell holds a YAML mapping of its config "
            f"(e.g. `key: value` lines), not {type(src.data).__name__}",
            code="invalid_value",
        )
    return dict(src.data)


def _last_step(graph: WorkflowGraph) -> str | None:
    attached = {e.source for e in graph.edges if e.kind in ATTACHMENT_KINDS}
    candidates = [n.id for n in graph.nodes if n.id not in attached]
    return candidates[-1] if candidates else None


# ---------------------------------------------------------------------------------- split


def split_workflow(meta: MetaLike, graph: WorkflowGraph, registry: NodeRegistry) -> NotebookParts:
    """The exported document with each step's body cut out (kept as a :class:`StepCell`).

    A body is cut only when it is a string that reads back unchanged (normalised); a field the
    Config requires is left as ``""`` in the skeleton so the skeleton stays a valid draft."""
    doc = copy.deepcopy(export_document(meta, graph, registry))
    cells: list[StepCell] = []
    _cut(doc.get("steps"), registry, cells)
    if cells:
        # as the exporter: unicode written as is unless a YAML line-break character spoils it
        for allow_unicode in (True, False):
            parts = NotebookParts(
                slug=meta.slug,
                name=meta.name,
                description=meta.description or "",
                skeleton=dump_yaml(doc, allow_unicode=allow_unicode),
                steps=tuple(cells),
            )
            if assemble(parts, registry).canonical_json() == graph.canonical_json():
                return parts
    # nothing to cut, or a body that does not survive the trip: the whole document, no cells
    return NotebookParts(
        meta.slug, meta.name, meta.description or "", export_dsl(meta, graph, registry), ()
    )


def assemble(parts: NotebookParts, registry: NodeRegistry) -> WorkflowGraph:
    """The graph a notebook's cells build: the skeleton with each step's body put back (what
    running the cells does, without validation)."""
    src = parse_source(parts.skeleton)
    if not isinstance(src.data, dict):
        raise DSLError(src.problems, filename="<skeleton>")
    graph = compile_data(src.data, registry, src.positions).graph
    nodes = {n.id: n for n in graph.nodes}
    for step in parts.steps:
        node = nodes[step.step_id]
        field = body_field(registry.get(node.type))
        if field is None:
            raise ValidationError(f"step {step.step_id!r} takes no body", code="invalid_value")
        nodes[node.id] = node.model_copy(update={"config": {**node.config, field: step.body}})
    return graph.model_copy(update={"nodes": tuple(nodes[n.id] for n in graph.nodes)})


def _cut(steps: Any, registry: NodeRegistry, cells: list[StepCell]) -> None:
    if not isinstance(steps, list):
        return
    for entry in steps:
        if not isinstance(entry, dict):
            continue
        type_name = entry.get("type")
        nt = (
            registry.get(type_name)
            if isinstance(type_name, str) and type_name in registry
            else None
        )
        field = body_field(nt) if nt is not None and not nt.is_trigger else None
        nested = entry.get("config")
        holder: dict[str, Any] = nested if isinstance(nested, dict) else entry
        value = holder.get(field) if field else None
        if (
            nt is not None
            and field is not None
            and isinstance(value, str)
            and isinstance(entry.get("id"), str)
            and normalise_body(value, code=is_code_field(nt, field)) == value
        ):
            info = nt.Config.model_fields[field]
            required = info.default is PydanticUndefined and info.default_factory is None
            if required and field not in nt.content_fields:
                holder[field] = ""
            else:
                del holder[field]
            if holder is not entry and not holder:
                del entry["config"]
            cells.append(StepCell(step_id=entry["id"], type=nt.name, body=value))
        _cut(entry.get(BODY_KEY), registry, cells)
