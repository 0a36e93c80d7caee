"""Validate a DSL document: ALL problems at once, each with line/column/path/message/code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workspace.domain.graph import WorkflowGraph
from workspace.dsl.compiler import CompileResult, Origin, WorkflowMeta, compile_data
from workspace.dsl.configcheck import (
    attachment_nodes,
    check_config,
    missing_content_of,
    reference_findings,
)
from workspace.dsl.graphcheck import check_graph
from workspace.dsl.model import document_shape_errors
from workspace.dsl.source import SourceMap, join_key, parse_source
from workspace.errors import DSLError, Problem
from workspace.sdk import NodeRegistry

#: ``get_base(slug)`` for fork documents: the base workflow's DSL text or graph (None = absent).
BaseResolver = Callable[[str], "str | WorkflowGraph | None"]


@dataclass
class ValidationReport:
    """The outcome of :func:`validate`. ``graph``/``meta`` are set when the document compiled
    without errors; ``missing`` lists what a draft still lacks (see :func:`missing_content`)."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    graph: WorkflowGraph | None = None
    meta: WorkflowMeta | None = None
    partial_graph: WorkflowGraph | None = None
    filename: str = "<dsl>"

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        g = self.graph or self.partial_graph
        return {
            "valid": self.valid,
            "errors": [p.to_dict() for p in self.errors],
            "warnings": [p.to_dict() for p in self.warnings],
            "missing": [dict(m) for m in self.missing],
            "nodes": [{"id": n.id, "type": n.type} for n in g.nodes] if g else [],
            "edges": [
                {"source": e.source, "target": e.target, "kind": e.kind.value, "route": e.route}
                for e in g.edges
            ]
            if g
            else [],
        }

    def render(self) -> str:
        return "\n".join(p.render(self.filename) for p in [*self.errors, *self.warnings])

    def raise_for_errors(self) -> None:
        if self.errors:
            raise DSLError(self.errors, filename=self.filename)


def _sorted(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[Any, ...]] = set()
    unique: list[Problem] = []
    for p in problems:
        key = (p.code, p.path, p.message, p.line, p.column)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return sorted(unique, key=lambda p: (p.line or 0, p.column or 0))


def graph_problems(
    result: CompileResult,
    registry: NodeRegistry,
    smap: SourceMap,
    *,
    draft: bool,
    known_workflows: set[str] | None,
    known_credentials: set[str] | None,
) -> tuple[list[Problem], list[dict[str, Any]]]:
    """Config and graph-rule problems of a compiled document, located in the source."""
    graph, origin = result.graph, result.origin
    problems: list[Problem] = []
    missing: list[dict[str, Any]] = []
    attached = attachment_nodes(graph)
    for node in graph.nodes:
        if node.type not in registry:
            continue
        nt = registry.get(node.type)
        node_path = origin.node_path(node.id)

        def path_of(key: str, node_id: str = node.id) -> str:
            return origin.config_path(node_id, key)

        for code, msg, path, at_key in check_config(
            node, nt, path_of, node_path, attached=node.id in attached
        ):
            problems.append(smap.problem(code, f"{node.id}: {msg}", path, key=at_key))
        gaps = [] if node.id in attached else missing_content_of(node, nt)
        refs = reference_findings(node, known_workflows, known_credentials)
        if draft:
            missing += gaps + refs
        else:
            for gap in gaps:
                problems.append(smap.problem("missing_content", gap["message"], node_path))
            for ref in refs:
                problems.append(
                    smap.problem(
                        f"unknown_{ref['reason']}",
                        f"{node.id}: {ref['message']}",
                        origin.config_path(node.id, ref["field"]),
                    )
                )
    for code, msg, what, subject, severity in check_graph(graph, registry):
        if what == "edge":
            path = origin.edge_path(graph.edges[subject])
        else:
            path = origin.node_path(subject)
        problems.append(smap.problem(code, msg, path, severity=severity))
    return problems, missing


def validate(
    text: str | bytes,
    registry: NodeRegistry,
    *,
    draft: bool = False,
    known_workflows: set[str] | None = None,
    known_credentials: set[str] | None = None,
    get_base: BaseResolver | None = None,
    filename: str = "<dsl>",
) -> ValidationReport:
    """Check a document completely; never raises for any input text."""
    report = ValidationReport(filename=filename)
    src = parse_source(text)
    problems = list(src.problems)
    if not isinstance(src.data, dict):
        report.errors = _sorted(problems)
        return report
    data, smap = src.data, src.positions
    for path, code, msg, at_key in document_shape_errors(data):
        problems.append(smap.problem(code, msg, path, key=at_key))
    if data.get("based_on") is not None:
        from workspace.dsl.fork import compile_fork

        result = compile_fork(data, registry, smap, get_base)
    else:
        result = compile_data(data, registry, smap)
    problems += result.problems
    more, missing = graph_problems(
        result,
        registry,
        smap,
        draft=draft,
        known_workflows=known_workflows,
        known_credentials=known_credentials,
    )
    problems += more
    report.errors = _sorted([p for p in problems if p.severity != "warning"])
    report.warnings = _sorted([p for p in problems if p.severity == "warning"])
    report.missing = missing
    report.partial_graph = result.graph
    if not report.errors:
        report.graph, report.meta = result.graph, result.meta
    return report


def validate_graph(
    graph: WorkflowGraph,
    registry: NodeRegistry,
    *,
    draft: bool = False,
    known_workflows: set[str] | None = None,
) -> ValidationReport:
    """Validate a graph that did not come from a document (canvas, API): paths are
    ``nodes.<id>`` and ``edges[<i>]``."""
    origin = Origin(
        nodes={n.id: join_key("nodes", n.id) for n in graph.nodes},
        config={
            n.id: {k: join_key(join_key("nodes", n.id), k) for k in n.config} for n in graph.nodes
        },
        edges={e.key: f"edges[{i}]" for i, e in enumerate(graph.edges)},
    )
    result = CompileResult(meta=None, graph=graph, problems=[], origin=origin)
    smap = SourceMap()
    problems, missing = graph_problems(
        result, registry, smap, draft=draft, known_workflows=known_workflows, known_credentials=None
    )
    for code, msg, _what, subject, severity in check_graph(graph, registry, report_unknown=True):
        if code in ("unknown_type", "duplicate_id"):
            problems.append(Problem(msg, code, path=origin.node_path(subject), severity=severity))
    report = ValidationReport(missing=missing, partial_graph=graph)
    report.errors = [p for p in problems if p.severity != "warning"]
    report.warnings = [p for p in problems if p.severity == "warning"]
    if not report.errors:
        report.graph = graph
    return report
