"""Fork and patch (``based_on`` + ``patches``)."""

from __future__ import annotations

import textwrap

from workspace.domain import EdgeKind, WorkflowGraph
from workspace.dsl import compile_document, validate
from workspace.sdk import NodeRegistry

from .helpers import edges

BASE = """
name: Base flow
description: the base
tags: [base]
trigger: chat
steps:
  - {id: fetch, type: http_request, url: "https://x"}
  - {id: bot, type: agent, prompt: "old prompt", tools: [calculator, web_search]}
  - {id: compute, type: code, code: "return 1"}
  - {id: reply, type: reply, message: done}
"""


def fork(text: str, reg: NodeRegistry, base: str | WorkflowGraph = BASE):  # type: ignore[no-untyped-def]
    return validate(
        textwrap.dedent(text), reg, get_base=lambda slug: base if slug == "base-flow" else None
    )


def ok(text: str, reg: NodeRegistry, base: str | WorkflowGraph = BASE) -> WorkflowGraph:
    r = fork(text, reg, base)
    assert r.valid, r.render()
    assert r.graph is not None
    return r.graph


def test_fork_meta_defaults(reg: NodeRegistry) -> None:
    r = fork("based_on: base-flow\npatches: []\n", reg)
    assert r.valid and r.meta is not None
    assert (r.meta.slug, r.meta.name, r.meta.tags) == (
        "base-flow-fork",
        "Base flow (fork)",
        ("base",),
    )
    base = compile_document(BASE, reg).graph
    assert r.graph == base
    r = fork("name: Mine\nbased_on: base-flow\npatches: []\n", reg, base)
    assert r.meta is not None and r.meta.slug == "mine"


def test_add_step_after(reg: NodeRegistry) -> None:
    g = ok(
        """
        name: f
        based_on: base-flow
        patches:
          - action: add_step
            after: fetch
            step: {id: check, type: code, code: "return 2"}
    """,
        reg,
    )
    ids = [n.id for n in g.nodes]
    assert ids.index("check") == ids.index("fetch") + 1
    assert ("fetch", "check", "data", None) in edges(g)
    assert ("check", "bot", "data", None) in edges(g)
    assert ("fetch", "bot", "data", None) not in edges(g)


def test_add_step_after_human_keeps_route(reg: NodeRegistry) -> None:
    base = (
        "name: b\nsteps:\n  - {id: ask, type: human, message: ok}\n"
        "  - {id: go, type: code, code: x}\n"
    )
    g = ok(
        """
        name: f
        based_on: base-flow
        patches:
          - {action: add_step, after: ask, step: {id: mid, type: human, message: sure}}
    """,
        reg,
        base,
    )
    assert ("ask", "mid", "route", "approved") in edges(g)
    assert ("mid", "go", "route", "approved") in edges(g)


def test_remove_step_reconnects(reg: NodeRegistry) -> None:
    g = ok(
        """
        name: f
        based_on: base-flow
        patches:
          - {action: remove_step, step_id: bot}
    """,
        reg,
    )
    ids = {n.id for n in g.nodes}
    assert "bot" not in ids and "bot_calculator" not in ids and "bot_web_search" not in ids
    assert ("fetch", "compute", "data", None) in edges(g)


def test_update_prompt_config_and_spellings(reg: NodeRegistry) -> None:
    g = ok(
        """
        name: f
        based_on: base-flow
        patches:
          - {action: update_prompt, agent_id: bot, prompt: "new prompt"}
          - {action: update_prompt, node_id: compute, snippet: "return 3"}
          - {action: update_config, step_id: fetch, config: {method: POST}}
    """,
        reg,
    )
    assert g.node("bot").config["prompt"] == "new prompt"
    assert g.node("compute").config["code"] == "return 3"
    assert g.node("fetch").config == {"url": "https://x", "method": "POST"}


def test_tools(reg: NodeRegistry) -> None:
    g = ok(
        """
        name: f
        based_on: base-flow
        patches:
          - {action: add_tool, agent_id: bot, tool: code}
          - {action: add_tool, step_id: bot, tool_type: calculator}
          - {action: remove_tool, tool_node_id: bot_web_search}
          - {action: add_tool, step_id: bot, tool: {type: web_search, url: "http://s"}}
    """,
        reg,
    )
    tools = [(e.source, g.node(e.source).type) for e in g.edges if e.kind == EdgeKind.TOOL]
    assert sorted(tools) == [
        ("bot_calculator", "calculator"),
        ("bot_calculator_2", "calculator"),
        ("bot_code_execute", "code_execute"),
        ("bot_web_search", "web_search"),
    ]
    assert g.node("bot_web_search").config == {"url": "http://s"}
    g = ok(
        """
        name: f
        based_on: base-flow
        patches:
          - {action: remove_tool, agent_id: bot, tool_type: calculator}
    """,
        reg,
    )
    assert "bot_calculator" not in {n.id for n in g.nodes}


def test_update_trigger_and_model(reg: NodeRegistry) -> None:
    g = ok(
        """
        name: f
        based_on: base-flow
        patches:
          - {action: update_trigger, trigger: {type: webhook, config: {auth: none}}}
          - {action: update_model, agent_id: bot, model: {capability: gpt-4o}}
          - {action: update_model, model: {discover: true, preference: cheapest}}
    """,
        reg,
    )
    assert g.nodes[0].id == "trigger_webhook" and g.nodes[0].config == {"auth": "none"}
    assert ("trigger_webhook", "fetch", "data", None) in edges(g)
    assert g.node("bot_model").config == {"capability": "gpt-4o"}
    assert ("bot_model", "bot", "llm", None) in edges(g)
    assert g.settings["model"] == {"discover": True, "preference": "cheapest"}


def test_patch_errors_have_paths_and_positions(reg: NodeRegistry) -> None:
    text = """\
name: f
based_on: base-flow
patches:
  - {action: update_prompt, step_id: bot, prompt: x}
  - {action: update_prompt, step_id: ghost, prompt: x}
  - {action: explode}
  - {action: add_step, after: fetch, step: {id: fetch, type: code, code: x}}
  - {action: add_tool, step_id: compute, tool: calculator}
"""
    r = fork(text, reg)
    got = [(p.code, p.path, p.line) for p in r.errors]
    assert ("dangling_reference", "patches[1].step_id", 5) in got
    assert ("unknown_action", "patches[2].action", 6) in got
    assert ("duplicate_id", "patches[3].step.id", 7) in got
    assert ("bad_patch", "patches[4]", 8) in got
    assert len(got) == 4


def test_missing_base(reg: NodeRegistry) -> None:
    r = validate("name: f\nbased_on: nope\npatches: []\n", reg, get_base=lambda s: None)
    assert [p.code for p in r.errors] == ["missing_base"]
    r = validate("name: f\nbased_on: nope\npatches: []\n", reg)
    assert [p.code for p in r.errors] == ["missing_base"]


def test_fork_config_errors_located_in_patch(reg: NodeRegistry) -> None:
    r = fork(
        """\
name: f
based_on: base-flow
patches:
  - action: add_step
    after: compute
    step: {id: x, type: http_request, url: "https://x", method: FETCH}
""",
        reg,
    )
    assert [(p.code, p.path, p.line) for p in r.errors] == [
        ("invalid_config", "patches[0].step.method", 6)
    ]
