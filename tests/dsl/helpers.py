"""Small helpers for DSL tests."""

from __future__ import annotations

import textwrap

from workspace.domain import WorkflowGraph
from workspace.dsl import validate
from workspace.dsl.validator import ValidationReport
from workspace.sdk import NodeRegistry


def check(text: str, reg: NodeRegistry, **kw: object) -> ValidationReport:
    return validate(textwrap.dedent(text), reg, **kw)  # type: ignore[arg-type]


def graph_of(text: str, reg: NodeRegistry, **kw: object) -> WorkflowGraph:
    report = check(text, reg, **kw)
    assert report.valid, report.render()
    assert report.graph is not None
    return report.graph


def edges(graph: WorkflowGraph) -> set[tuple[str, str, str, str | None]]:
    return {(e.source, e.target, e.kind.value, e.route) for e in graph.edges}


def codes(report: ValidationReport) -> list[str]:
    return [p.code for p in report.errors]
