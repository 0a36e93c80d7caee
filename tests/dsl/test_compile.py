"""Implicit flow rules (docs/graph-conventions.md) and the compiled graph."""

from __future__ import annotations

from workspace.domain import EdgeKind
from workspace.dsl import compile_document
from workspace.sdk import NodeRegistry

from .helpers import edges, graph_of

SPEC_EXAMPLE = """
name: Support triage
description: Classify and answer support requests
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
  - {id: answer, type: agent, prompt: "Answer: {{ trigger.text }}",
     tools: [calculator, {type: http_request, url: "https://x"}], memory: true}
edges:
  - {from: escalate, to: answer, route: approved}
"""


def test_spec_example_compiles(reg: NodeRegistry) -> None:
    c = compile_document(SPEC_EXAMPLE, reg)
    assert c.meta.slug == "support-triage"
    assert c.meta.name == "Support triage"
    assert c.meta.tags == ("support",)
    g = c.graph
    assert [n.id for n in g.nodes] == [
        "trigger_chat",
        "classify",
        "route",
        "escalate",
        "answer",
        "answer_calculator",
        "answer_http_request",
        "answer_memory",
    ]
    assert edges(g) == {
        ("trigger_chat", "classify", "data", None),
        ("classify", "route", "data", None),
        ("route", "escalate", "route", "escalate"),
        ("route", "answer", "route", "answer"),
        ("escalate", "answer", "route", "approved"),
        ("answer_calculator", "answer", "tool", None),
        ("answer_http_request", "answer", "tool", None),
        ("answer_memory", "answer", "memory", None),
    }
    assert g.settings == {"model": {"capability": "gpt-4o-mini"}, "durability": "sync"}
    tool = g.node("answer_http_request")
    assert tool.config == {"url": "https://x"}
    mem = next(e for e in g.edges if e.kind == EdgeKind.MEMORY)
    assert (mem.source_port, mem.target_port) == ("output", "memory")


def test_default_trigger_and_chain(reg: NodeRegistry) -> None:
    g = graph_of(
        """
        name: t
        steps:
          - {id: a, type: code, code: "return 1"}
          - {id: b, type: code, code: "return 2"}
    """,
        reg,
    )
    assert g.nodes[0].id == "trigger_manual"
    assert edges(g) == {("trigger_manual", "a", "data", None), ("a", "b", "data", None)}
    e = g.edges[0]
    assert (e.source_port, e.target_port) == ("output", "input")


def test_trigger_forms(reg: NodeRegistry) -> None:
    g = graph_of(
        """
        name: t
        trigger: {type: webhook, config: {auth: none}}
        steps: [{id: a, type: code, code: x}]
    """,
        reg,
    )
    assert g.nodes[0].id == "trigger_webhook"
    assert g.nodes[0].config == {"auth": "none"}
    g = graph_of(
        """
        name: t
        trigger: none
        steps: [{id: a, type: code, code: x}]
    """,
        reg,
    )
    assert g.nodes[0].type == "trigger_workflow"
    g = graph_of(
        """
        name: t
        triggers: [chat, {type: trigger_chat}, {type: webhook, id: hook, path: /x}]
        steps: [{id: a, type: code, code: x}]
    """,
        reg,
    )
    assert [n.id for n in g.nodes[:3]] == ["trigger_chat", "trigger_chat_2", "hook"]
    assert g.node("hook").config == {"path": "/x"}
    assert {(s, t) for s, t, _, _ in edges(g)} == {
        ("trigger_chat", "a"),
        ("trigger_chat_2", "a"),
        ("hook", "a"),
    }
    g = graph_of(
        """
        name: t
        trigger: schedule
        trigger_config: {cron: "* * * * *"}
        steps: [{id: a, type: code, code: x}]
    """,
        reg,
    )
    assert g.nodes[0].config == {"cron": "* * * * *"}
    g = graph_of(
        """
        name: t
        triggers: []
        steps: [{id: a, type: code, code: x}]
    """,
        reg,
    )
    assert [n.id for n in g.nodes] == ["a"]


def test_default_ids_and_aliases(reg: NodeRegistry) -> None:
    g = graph_of(
        """
        name: t
        steps:
          - {type: http, url: "https://x"}
          - {type: reply_chat, message: hi}
          - {type: workflow, workflow: child}
          - {type: deep_agent, prompt: p, tools: [code, http]}
    """,
        reg,
    )
    assert [(n.id, n.type) for n in g.nodes] == [
        ("trigger_manual", "trigger_manual"),
        ("http_request_1", "http_request"),
        ("reply_2", "reply"),
        ("subworkflow_3", "subworkflow"),
        ("agent_4", "agent"),
        ("agent_4_code_execute", "code_execute"),
        ("agent_4_http_request", "http_request"),
    ]


def test_generated_ids_avoid_declared_ids(reg: NodeRegistry) -> None:
    g = graph_of(
        """
        name: t
        steps:
          - {type: code, code: x}
          - {id: code_1, type: code, code: y}
          - {id: a, type: agent, prompt: p, tools: [calculator, calculator]}
          - {id: a_calculator_2, type: code, code: z}
    """,
        reg,
    )
    ids = [n.id for n in g.nodes]
    assert ids[1] == "code_1_2" and ids[2] == "code_1"
    assert "a_calculator" in ids and "a_calculator_3" in ids


def test_claims_and_chain_resumes_from_claimed(reg: NodeRegistry) -> None:
    g = graph_of(
        """
        name: t
        steps:
          - id: sw
            type: switch
            rules: [{field: trigger.x, operator: equals, value: 1, route: one}]
            default: two
          - {id: one, type: code, code: x}
          - {id: two, type: code, code: x}
          - {id: after, type: code, code: x}
    """,
        reg,
    )
    assert edges(g) == {
        ("trigger_manual", "sw", "data", None),
        ("sw", "one", "route", "one"),
        ("sw", "two", "route", "two"),
        ("two", "after", "data", None),
    }


def test_human_and_assertion_chain_routes(reg: NodeRegistry) -> None:
    g = graph_of(
        """
        name: t
        steps:
          - {id: ask, type: human, message: "ok?"}
          - {id: check, type: assertion, rules: [{field: ask.ok, operator: is_true}]}
          - {id: done, type: reply, message: ok}
    """,
        reg,
    )
    assert ("ask", "check", "route", "approved") in edges(g)
    assert ("check", "done", "route", "pass") in edges(g)


def test_on_error_claims_handler(reg: NodeRegistry) -> None:
    g = graph_of(
        """
        name: t
        steps:
          - {id: fetch, type: http_request, url: "https://x", on_error: oops}
          - {id: oops, type: reply, message: "failed: {{ input.message }}"}
          - {id: next, type: reply, message: next}
    """,
        reg,
    )
    err = [e for e in g.edges if e.kind == EdgeKind.ERROR]
    assert len(err) == 1 and (err[0].source, err[0].target) == ("fetch", "oops")
    assert (err[0].source_port, err[0].target_port) == ("error", "input")
    assert ("fetch", "oops", "data", None) not in edges(g)
    assert ("oops", "next", "data", None) in edges(g)


def test_loop_body_wiring(reg: NodeRegistry) -> None:
    g = graph_of(
        """
        name: t
        steps:
          - id: each
            type: loop
            over: "{{ trigger.items }}"
            body:
              - {id: b1, type: code, code: x}
              - {type: code, code: y}
          - {id: after, type: code, code: z}
    """,
        reg,
    )
    assert [n.id for n in g.nodes] == ["trigger_manual", "each", "b1", "each_body_2", "after"]
    by = {(e.source, e.target): e for e in g.edges}
    body = by[("each", "b1")]
    assert (body.kind, body.source_port, body.target_port) == (EdgeKind.LOOP_BODY, "body", "input")
    assert by[("b1", "each_body_2")].kind == EdgeKind.DATA
    ret = by[("each_body_2", "each")]
    assert (ret.kind, ret.source_port, ret.target_port) == (
        EdgeKind.LOOP_RETURN,
        "output",
        "return",
    )
    done = by[("each", "after")]
    assert (done.kind, done.source_port) == (EdgeKind.DATA, "done")
    assert "body" not in g.node("each").config


def test_loop_body_by_reference(reg: NodeRegistry) -> None:
    g = graph_of(
        """
        name: t
        steps:
          - {id: each, type: loop, over: "{{ trigger.items }}", body: [x, y]}
          - {id: x, type: code, code: a}
          - {id: y, type: code, code: b}
          - {id: after, type: code, code: c}
    """,
        reg,
    )
    assert edges(g) == {
        ("trigger_manual", "each", "data", None),
        ("each", "x", "loop_body", None),
        ("x", "y", "data", None),
        ("y", "each", "loop_return", None),
        ("each", "after", "data", None),
    }


def test_attachments_model_and_memory(reg: NodeRegistry) -> None:
    g = graph_of(
        """
        name: t
        steps:
          - id: bot
            type: agent
            prompt: hi
            model: {credential: openai, model_name: gpt-4o, temperature: 0.2}
            memory: {scope: user}
            tools: [{type: web_search, id: search, backend: searxng}]
    """,
        reg,
    )
    assert [n.id for n in g.nodes] == ["trigger_manual", "bot", "bot_model", "search", "bot_memory"]
    assert g.node("bot_model").type == "ai_model"
    assert g.node("bot_model").config == {
        "credential": "openai",
        "model_name": "gpt-4o",
        "temperature": 0.2,
    }
    assert g.node("bot_memory").config == {"scope": "user"}
    assert g.node("search").config == {"backend": "searxng"}
    kinds = {(e.source, e.kind, e.target_port) for e in g.edges if e.target == "bot"}
    assert kinds == {
        ("bot_model", EdgeKind.LLM, "model"),
        ("search", EdgeKind.TOOL, "tools"),
        ("bot_memory", EdgeKind.MEMORY, "memory"),
        ("trigger_manual", EdgeKind.DATA, "input"),
    }
    assert g.node("bot").config == {"prompt": "hi"}


def test_node_fields_and_nested_config(reg: NodeRegistry) -> None:
    g = graph_of(
        """
        name: t
        steps:
          - id: a
            type: http_request
            label: Fetch it
            retry: {max_attempts: 3, backoff_s: 0.5}
            timeout_s: 5
            join: any
            config: {url: "https://x", method: POST}
          - {id: b, type: merge, join: {n: 2}}
          - {id: c, type: merge, join: 3}
    """,
        reg,
    )
    a = g.node("a")
    assert a.label == "Fetch it" and a.timeout_s == 5.0
    assert a.retry is not None and a.retry.max_attempts == 3 and a.retry.backoff_s == 0.5
    assert a.join is not None and a.join.mode == "any"
    assert a.config == {"url": "https://x", "method": "POST"}
    assert g.node("b").join is not None and g.node("b").join.n == 2
    assert g.node("c").join is not None and g.node("c").join.n == 3


def test_explicit_edges_ports_and_dedupe(reg: NodeRegistry) -> None:
    g = graph_of(
        """
        name: t
        steps:
          - {id: a, type: code, code: x}
          - {id: b, type: code, code: y}
          - {id: m, type: merge}
        edges:
          - {from: a, to: b}
          - {from: a, to: m}
          - {from: a, to: m, kind: error}
    """,
        reg,
    )
    assert [e for e in g.edges if (e.source, e.target) == ("a", "b")].__len__() == 1
    err = next(e for e in g.edges if e.kind == EdgeKind.ERROR)
    assert err.source_port == "error"


def test_flow_explicit_has_no_chain(reg: NodeRegistry) -> None:
    g = graph_of(
        """
        name: t
        flow: explicit
        steps:
          - {id: a, type: code, code: x}
          - {id: b, type: code, code: y}
        edges:
          - {from: trigger_manual, to: b}
    """,
        reg,
    )
    assert edges(g) == {("trigger_manual", "b", "data", None)}


def test_layout_positions_and_slug(reg: NodeRegistry) -> None:
    c = compile_document(
        """
name: "Hello, World! 2"
steps: [{id: a, type: code, code: x}]
layout:
  a: {x: 10, y: 20.5}
  trigger_manual: [0, 0]
""",
        reg,
    )
    assert c.meta.slug == "hello-world-2"
    pos = c.graph.node("a").position
    assert pos is not None and (pos.x, pos.y) == (10.0, 20.5)
    assert c.graph.node("trigger_manual").position is not None


def test_edges_are_canonically_sorted(reg: NodeRegistry) -> None:
    g = graph_of(SPEC_EXAMPLE, reg)
    assert g.to_canonical()["edges"] == [
        e.model_dump(mode="json", exclude_none=True) for e in g.edges
    ]


def test_on_error_as_config_field_when_no_step_is_named(reg: NodeRegistry) -> None:
    from .fakes import Loop, LoopConfig

    class StrictLoopConfig(LoopConfig):
        on_error: str = "stop"

    class StrictLoop(Loop):
        name = "strict_loop"
        Config = StrictLoopConfig

    reg.register(StrictLoop)
    g = graph_of(
        """
        name: t
        steps:
          - {id: l, type: strict_loop, over: "{{ x }}", on_error: continue,
             body: [{id: b, type: code, code: y}]}
          - {id: m, type: strict_loop, over: "{{ x }}", on_error: h,
             body: [{id: c, type: code, code: y}]}
          - {id: h, type: code, code: z}
        """,
        reg,
    )
    assert g.node("l").config["on_error"] == "continue"
    assert "on_error" not in g.node("m").config
    assert ("m", "h", "error", None) in edges(g)
    from workspace.dsl import export_dsl
    from workspace.dsl.compiler import WorkflowMeta

    text = export_dsl(WorkflowMeta(slug="t", name="t"), g, reg)
    assert compile_document(text, reg).graph == g
