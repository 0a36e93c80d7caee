"""Compile a fork document: ``based_on: <slug>`` + ``patches:`` (+ ``edges:``/``layout:``).

See :mod:`workspace.dsl.patches` for the actions and their parameter spellings.
"""

from __future__ import annotations

from typing import Any

from workspace.domain.graph import WorkflowGraph
from workspace.dsl.compiler import (
    Compiler,
    CompileResult,
    Origin,
    WorkflowMeta,
    compile_data,
    read_layout,
    read_meta,
    read_settings,
    sort_edges,
)
from workspace.dsl.patches import Patcher, PatchError
from workspace.dsl.source import SourceMap, join_index, join_key, parse_source
from workspace.errors import Problem
from workspace.sdk import NodeRegistry


def _load_base(
    slug: str, registry: NodeRegistry, get_base: Any, smap: SourceMap
) -> tuple[WorkflowGraph | None, WorkflowMeta | None, list[Problem]]:
    if get_base is None:
        return (
            None,
            None,
            [
                smap.problem(
                    "missing_base", "a fork needs a base workflow resolver (get_base)", "based_on"
                )
            ],
        )
    try:
        base = get_base(slug)
    except Exception as exc:  # NotFoundError, KeyError, ... from the caller's store
        base = None
        detail = f": {exc}" if str(exc) else ""
        return (
            None,
            None,
            [smap.problem("missing_base", f"base workflow {slug!r} not found{detail}", "based_on")],
        )
    if isinstance(base, WorkflowGraph):
        return base, None, []
    graph = getattr(base, "graph", None)
    if isinstance(graph, WorkflowGraph):
        return graph, getattr(base, "meta", None), []
    if isinstance(base, str | bytes):
        src = parse_source(base)
        if not isinstance(src.data, dict) or src.data.get("based_on") is not None:
            return (
                None,
                None,
                [
                    smap.problem(
                        "invalid_base",
                        f"base workflow {slug!r} is not a plain workflow document",
                        "based_on",
                    )
                ],
            )
        result = compile_data(src.data, registry, src.positions)
        errors = [p for p in src.problems + result.problems if p.severity == "error"]
        problems = (
            [
                smap.problem(
                    "invalid_base",
                    f"base workflow {slug!r} has problems: "
                    + "; ".join(p.render(slug) for p in errors[:3]),
                    "based_on",
                )
            ]
            if errors
            else []
        )
        return result.graph, result.meta, problems
    return (
        None,
        None,
        [smap.problem("missing_base", f"base workflow {slug!r} not found", "based_on")],
    )


def compile_fork(
    data: dict[str, Any], registry: NodeRegistry, smap: SourceMap, get_base: Any
) -> CompileResult:
    """Compile a ``based_on`` document: base graph + patches (+ ``edges:``/``layout:``)."""
    problems: list[Problem] = []
    slug = data.get("based_on")
    if not isinstance(slug, str):
        return CompileResult(None, WorkflowGraph(), problems, Origin())
    base, base_meta, base_problems = _load_base(slug, registry, get_base, smap)
    problems += base_problems
    fallback = f"{slug}-fork"
    meta = read_meta(data, smap, problems, fallback_slug=fallback)
    if meta is not None and not data.get("name") and not data.get("slug") and base_meta:
        meta = WorkflowMeta(
            slug=fallback,
            name=f"{base_meta.name} (fork)",
            description=meta.description or base_meta.description,
            tags=meta.tags or base_meta.tags,
        )
    if data.get("steps") is not None:
        problems.append(
            smap.problem(
                "invalid_value",
                "a fork (`based_on`) takes `patches`, not `steps`",
                "steps",
                key=True,
            )
        )
    if base is None:
        return CompileResult(meta, WorkflowGraph(), problems, Origin())
    patcher = Patcher(registry, smap, base)
    patches = data.get("patches")
    for i, patch in enumerate(patches if isinstance(patches, list) else []):
        path = join_index("patches", i)
        try:
            patcher.apply(patch, path)
        except PatchError as exc:
            problems.append(smap.problem(exc.code, exc.message, exc.path))
    problems += patcher.problems
    settings = {**patcher.settings, **read_settings(data)}
    compiler = Compiler(registry, smap, data)
    layout = read_layout(data)
    compiler.nodes = [
        n.model_copy(update={"position": layout[n.id]}) if n.id in layout else n
        for n in patcher.nodes
    ]
    compiler.types = {
        n.id: registry.get(n.type) if n.type in registry else None for n in compiler.nodes
    }
    compiler.origin = patcher.origin
    compiler.edges = list(patcher.edges)
    compiler.edge_keys = {e.key for e in compiler.edges}
    compiler.implicit_keys = set(compiler.edge_keys)
    compiler.explicit_edges()
    problems += compiler.col.problems
    for node_id in layout:
        if node_id not in compiler.types:
            problems.append(
                smap.problem(
                    "dangling_reference",
                    f"layout for unknown node {node_id!r}",
                    join_key("layout", node_id),
                    key=True,
                    severity="warning",
                )
            )
    graph = WorkflowGraph(
        nodes=tuple(compiler.nodes), edges=sort_edges(compiler.edges), settings=settings
    )
    return CompileResult(meta, graph, problems, patcher.origin)
