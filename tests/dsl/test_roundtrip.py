"""Round trip: ``compile(export(g)) == g`` (same graph, same content hash)."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from workspace.domain import WorkflowGraph
from workspace.dsl import WorkflowMeta, compile_document, export_dsl, export_json, validate
from workspace.dsl.compiler import compile_data
from workspace.dsl.source import parse_source
from workspace.sdk import NodeRegistry

from .fakes import make_registry
from .strategies import documents, graphs
from .test_compile import SPEC_EXAMPLE

REG = make_registry()
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(glob.glob(str(ROOT / "examples" / "*.yaml")))
HAS_CATALOG = (ROOT / "nodes" / "catalog.py").exists()
META = WorkflowMeta(slug="wf", name="wf")
SLOW = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def structural(text: str, reg: NodeRegistry) -> WorkflowGraph:
    src = parse_source(text)
    assert isinstance(src.data, dict), src.problems
    return compile_data(src.data, reg, src.positions).graph


def roundtrip(graph: WorkflowGraph, reg: NodeRegistry) -> str:
    text = export_dsl(META, graph, reg)
    again = structural(text, reg)
    assert again.canonical_json() == graph.canonical_json(), text
    assert again.content_hash() == graph.content_hash()
    return text


def test_spec_example_roundtrip(reg: NodeRegistry) -> None:
    c = compile_document(SPEC_EXAMPLE, reg)
    text = export_dsl(c.meta, c.graph, reg)
    assert "flow: explicit" not in text
    again = compile_document(text, reg)
    assert again.graph == c.graph and again.meta == c.meta
    data = yaml.safe_load(text)
    assert data["edges"] == [{"from": "escalate", "to": "answer", "route": "approved"}]
    assert data["steps"][3]["tools"][0] == "calculator"
    assert export_json(c.meta, c.graph, reg) == data


def test_export_uses_explicit_form_when_needed(reg: NodeRegistry) -> None:
    from workspace.domain import Edge, Node

    # a chain a → b the implicit form would add, but the graph lacks
    g = WorkflowGraph(
        nodes=(
            Node(id="trigger_manual", type="trigger_manual"),
            Node(id="a", type="code", config={"code": "x"}),
            Node(id="b", type="code", config={"code": "y"}),
        ),
        edges=(Edge(source="trigger_manual", target="a"),),
    )
    text = roundtrip(g, reg)
    assert "flow: explicit" in text


def test_positions_and_settings_roundtrip(reg: NodeRegistry) -> None:
    text = """
name: Layout
steps:
  - {id: a, type: code, code: x, label: First, retry: {max_attempts: 2}, timeout_s: 3, join: any}
  - {id: b, type: generic, config: {id: 1, type: t, tools: [1]}}
settings: {custom: [1, 2]}
timeout_s: 60
layout: {a: {x: 1.5, y: -2}, trigger_manual: {x: 0, y: 0}}
"""
    g = compile_document(text, reg).graph
    out = roundtrip(g, reg)
    assert "layout:" in out and "flow: explicit" not in out


@SLOW
@given(documents())
def test_generated_documents_roundtrip_implicitly(doc: dict) -> None:  # type: ignore[type-arg]
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    report = validate(text, REG, draft=True)
    assert report.valid, report.render() + "\n" + text
    assert report.graph is not None
    out = roundtrip(report.graph, REG)
    assert "flow: explicit" not in out, text + "\n----\n" + out
    assert compile_document(out, REG, draft=True).graph == report.graph


@SLOW
@given(graphs(REG))
def test_generated_graphs_roundtrip(graph: WorkflowGraph) -> None:
    roundtrip(graph, REG)


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_examples_roundtrip(path: str) -> None:
    if not HAS_CATALOG:
        pytest.skip("nodes/catalog.py does not exist yet")
    reg = NodeRegistry.discover()
    texts = {Path(p).stem.replace("_", "-"): Path(p).read_text() for p in EXAMPLES}
    report = validate(Path(path).read_text(), reg, filename=path, get_base=texts.get)
    assert report.valid, report.render()
    assert report.graph is not None and report.meta is not None
    text = export_dsl(report.meta, report.graph, reg)
    again = compile_document(text, reg)
    assert again.graph == report.graph


@pytest.mark.skipif(not HAS_CATALOG, reason="nodes/catalog.py does not exist yet")
@SLOW
@given(data=__import__("hypothesis").strategies.data())
def test_real_registry_graphs_roundtrip(data) -> None:  # type: ignore[no-untyped-def]
    reg = NodeRegistry.discover()
    roundtrip(data.draw(graphs(reg)), reg)
