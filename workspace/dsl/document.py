"""Document-level pieces of a compile: metadata, settings, layout, origins, results."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from workspace.domain.canonical import canonical_json
from workspace.domain.graph import SLUG_RE, Edge, Position, WorkflowGraph
from workspace.dsl.source import SourceMap, join_key
from workspace.errors import Problem

SETTINGS_KEYS = ("durability", "timeout_s", "model", "budget")


@dataclass(frozen=True)
class WorkflowMeta:
    """Workflow metadata from a document (not part of the graph)."""

    slug: str
    name: str
    description: str = ""
    tags: Sequence[str] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", tuple(self.tags))


@dataclass
class Origin:
    """Where each graph element was declared (paths into the document)."""

    nodes: dict[str, str] = field(default_factory=dict)
    config: dict[str, dict[str, str]] = field(default_factory=dict)
    edges: dict[tuple[str, ...], str] = field(default_factory=dict)

    def node_path(self, node_id: str) -> str:
        return self.nodes.get(node_id, "")

    def config_path(self, node_id: str, key: str) -> str:
        return self.config.get(node_id, {}).get(key) or join_key(self.node_path(node_id), key)

    def edge_path(self, edge: Edge) -> str:
        return self.edges.get(edge.key, self.node_path(edge.target))


@dataclass
class CompileResult:
    meta: WorkflowMeta | None
    graph: WorkflowGraph
    problems: list[Problem]
    origin: Origin
    explicit: bool = False


def slugify(name: str) -> str:
    """``"Support triage!"`` → ``"support-triage"``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "workflow"


def sort_edges(edges: list[Edge]) -> tuple[Edge, ...]:
    """Edges in canonical order (the order of :meth:`WorkflowGraph.to_canonical`)."""
    return tuple(
        sorted(edges, key=lambda e: canonical_json(e.model_dump(mode="json", exclude_none=True)))
    )


def read_meta(
    data: dict[str, Any], smap: SourceMap, problems: list[Problem], fallback_slug: str | None = None
) -> WorkflowMeta | None:
    name, slug = data.get("name"), data.get("slug")
    name = name if isinstance(name, str) and name.strip() else None
    if isinstance(slug, str) and not SLUG_RE.match(slug):
        problems.append(
            smap.problem("invalid_slug", f"slug {slug!r} must match [a-z0-9][a-z0-9-]*", "slug")
        )
        return None
    slug = slug if isinstance(slug, str) else None
    if slug is None and name is None:
        if fallback_slug is None:
            problems.append(
                smap.problem("missing_key", "a workflow needs a `name` (or `slug`)", "")
            )
            return None
        slug = fallback_slug
    slug = slug or slugify(name or "")
    desc = data.get("description")
    tags = data.get("tags")
    return WorkflowMeta(
        slug=slug,
        name=name or slug,
        description=desc if isinstance(desc, str) else "",
        tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
    )


def read_settings(data: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    extra = data.get("settings")
    if isinstance(extra, dict):
        settings.update(extra)
    for key in SETTINGS_KEYS:
        if data.get(key) is not None:
            settings[key] = data[key]
    return settings


def read_layout(data: dict[str, Any]) -> dict[str, Position]:
    out: dict[str, Position] = {}
    layout = data.get("layout")
    if not isinstance(layout, dict):
        return out
    for node_id, pos in layout.items():
        try:
            if isinstance(pos, list | tuple) and len(pos) == 2:
                out[node_id] = Position(x=pos[0], y=pos[1])
            elif isinstance(pos, dict):
                out[node_id] = Position.model_validate(pos)
        except ValidationError:
            continue
    return out


def reserve_ids(items: Any, reserved: set[str]) -> None:
    """Every explicit id of steps, loop bodies and attachments (so generated ids avoid them)."""
    if not isinstance(items, list):
        return
    for item in items:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("id"), str):
            reserved.add(item["id"])
        reserve_ids(item.get("body"), reserved)
        for key in ("tools", "model", "memory"):
            value = item.get(key)
            for entry in value if isinstance(value, list) else [value]:
                if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                    reserved.add(entry["id"])
