"""The YAML DSL: parse, validate, compile to a :class:`WorkflowGraph`, export back (SPEC §5).

Public API::

    parse_document(text)                     -> SourceDocument (raises DSLError on YAML errors)
    validate(text, registry, *, draft=False, known_workflows=None, ...) -> ValidationReport
    compile_document(text, registry, *, draft=False, get_base=None, filename="<dsl>")
                                             -> CompiledWorkflow(meta, graph, warnings, missing)
    export_dsl(meta, graph, registry) -> str;  export_json(meta, graph, registry) -> dict
    dsl_json_schema() -> dict;  missing_content(graph, registry) -> list[dict]
    validate_graph(graph, registry)          -> ValidationReport (graphs from canvas/API)

See README.md in this package for the contracts, implicit flow rules and error codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workspace.domain.graph import WorkflowGraph
from workspace.dsl.compiler import WorkflowMeta, slugify
from workspace.dsl.configcheck import missing_content
from workspace.dsl.exporter import export_dsl, export_json
from workspace.dsl.model import dsl_json_schema
from workspace.dsl.source import SourceDocument, parse_source
from workspace.dsl.validator import BaseResolver, ValidationReport, validate, validate_graph
from workspace.errors import DSLError, Problem
from workspace.sdk import NodeRegistry


@dataclass(frozen=True)
class CompiledWorkflow:
    meta: WorkflowMeta
    graph: WorkflowGraph
    warnings: list[Problem] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)


def parse_document(text: str | bytes, *, filename: str = "<dsl>") -> SourceDocument:
    """Parse YAML (positions kept); raises DSLError with every syntax problem."""
    doc = parse_source(text)
    errors = [p for p in doc.problems if p.severity == "error"]
    if errors:
        raise DSLError(errors, filename=filename)
    return doc


def compile_document(
    text: str | bytes,
    registry: NodeRegistry,
    *,
    draft: bool = False,
    get_base: BaseResolver | None = None,
    filename: str = "<dsl>",
    known_workflows: set[str] | None = None,
    known_credentials: set[str] | None = None,
) -> CompiledWorkflow:
    """Validate and compile; raises DSLError carrying ALL problems if there is any error."""
    report = validate(
        text,
        registry,
        draft=draft,
        get_base=get_base,
        filename=filename,
        known_workflows=known_workflows,
        known_credentials=known_credentials,
    )
    report.raise_for_errors()
    assert report.graph is not None and report.meta is not None
    return CompiledWorkflow(
        meta=report.meta, graph=report.graph, warnings=report.warnings, missing=report.missing
    )


__all__ = [
    "BaseResolver",
    "CompiledWorkflow",
    "DSLError",
    "SourceDocument",
    "ValidationReport",
    "WorkflowMeta",
    "compile_document",
    "dsl_json_schema",
    "export_dsl",
    "export_json",
    "missing_content",
    "parse_document",
    "slugify",
    "validate",
    "validate_graph",
]
