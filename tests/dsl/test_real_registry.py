"""The DSL against the real built-in node types (nodes/), plus stand-ins for the AI types
that come in a later issue (agent, categorizer, ai_model, memory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workspace.dsl import compile_document, export_dsl, validate
from workspace.sdk import NodeRegistry

from . import fakes
from .helpers import edges

HAS_CATALOG = (Path(__file__).resolve().parents[2] / "nodes" / "catalog.py").exists()
pytestmark = pytest.mark.skipif(not HAS_CATALOG, reason="nodes/catalog.py does not exist yet")

PIPELIT_STYLE = """
name: Support triage
description: Pipelit-style document (SPEC §5)
tags: [support]
trigger: chat
model: {capability: gpt-4o-mini}
durability: sync
steps:
  - id: classify
    type: categorizer
    categories: [{name: urgent, description: needs a human}, question, feedback]
  - id: route
    type: switch
    rules:
      - {field: classify.category, operator: equals, value: urgent, route: escalate}
    default: answer
  - {id: escalate, type: human, message: "Escalate {{ trigger.text }}?"}
  - {id: answer, type: deep_agent, prompt: "Answer: {{ trigger.text }}",
     tools: [calculator, {type: http}], memory: true}
  - {id: say, type: reply_chat, text: "{{ answer.output }}"}
edges:
  - {from: escalate, to: answer, route: approved}
"""


@pytest.fixture
def real() -> NodeRegistry:
    reg = NodeRegistry.discover()
    for t in (fakes.Agent, fakes.Categorizer, fakes.AiModel, fakes.Memory):
        if t.name not in reg:
            reg.register(t)
    return reg


def test_pipelit_style_document(real: NodeRegistry) -> None:
    report = validate(PIPELIT_STYLE, real)
    assert report.valid, report.render()
    g = report.graph
    assert g is not None
    assert g.node("answer").type == "agent" and g.node("say").type == "reply"
    assert g.node("answer_http_request").type == "http_request"
    assert {
        ("route", "escalate", "route", "escalate"),
        ("route", "answer", "route", "answer"),
        ("escalate", "answer", "route", "approved"),
        ("answer", "say", "data", None),
        ("answer_calculator", "answer", "tool", None),
    } <= edges(g)
    text = export_dsl(report.meta, g, real)
    assert "flow: explicit" not in text
    assert compile_document(text, real).graph == g


def test_real_config_errors_are_located(real: NodeRegistry) -> None:
    text = """\
name: x
trigger: {type: schedule, config: {cron: "not a cron"}}
steps:
  - {id: a, type: code, code: "return 1", langauge: python}
  - {id: w, type: switch, rules: [{field: a.x, operator: nope, route: a}]}
"""
    r = validate(text, real)
    got = {(p.code, p.line) for p in r.errors}
    assert ("invalid_config", 2) in got
    assert ("unknown_key", 4) in got
    assert ("invalid_config", 5) in got


def test_real_drafts_and_missing(real: NodeRegistry) -> None:
    r = validate("name: x\nsteps:\n  - {id: a, type: code}\n", real, draft=True)
    assert r.valid, r.render()
    assert r.missing and r.missing[0]["node_id"] == "a"
    assert not validate("name: x\nsteps:\n  - {id: a, type: code}\n", real).valid


def test_every_real_type_has_canonical_name(real: NodeRegistry) -> None:
    for name in real.names():
        assert real.canonical_name(name) == name
