"""Validation: every problem at once, each with line/column/path/message/code."""

from __future__ import annotations

import json

import pytest

from workspace.domain import Edge, EdgeKind, Node, WorkflowGraph
from workspace.dsl import compile_document, missing_content, validate, validate_graph
from workspace.errors import DSLError
from workspace.sdk import NodeRegistry

from .helpers import check, codes


def find(report, code):  # type: ignore[no-untyped-def]
    hits = [p for p in report.errors + report.warnings if p.code == code]
    assert hits, f"no {code} in {report.render()}"
    return hits[0]


def test_yaml_syntax_error_has_position(reg: NodeRegistry) -> None:
    r = validate("name: x\nsteps: [a, b\n", reg)
    assert not r.valid and codes(r) == ["yaml_syntax"]
    p = r.errors[0]
    assert p.line is not None and p.column is not None
    assert r.to_json()["nodes"] == []


def test_duplicate_key(reg: NodeRegistry) -> None:
    r = check(
        """
        name: x
        steps:
          - id: a
            type: code
            code: x
            code: y
    """,
        reg,
    )
    p = find(r, "duplicate_key")
    assert (p.line, p.column, p.path) == (7, 5, "steps[0].code")


def test_five_distinct_problems_all_reported(reg: NodeRegistry) -> None:
    text = """\
name: broken
colour: blue
steps:
  - {id: a, type: nosuchtype}
  - {id: b, type: code, code: x, colour: red}
  - {id: b, type: code, code: y}
  - {id: c, type: http_request, url: "https://x", method: FETCH}
  - {id: d, type: code, code: z, on_error: ghost}
"""
    r = validate(text, reg, filename="wf.yaml")
    got = {(p.code, p.line) for p in r.errors}
    assert ("unknown_key", 2) in got
    assert ("unknown_type", 4) in got
    assert ("unknown_key", 5) in got
    assert ("duplicate_id", 6) in got
    assert ("invalid_config", 7) in got
    assert ("dangling_reference", 8) in got
    assert len(r.errors) == 6
    for p in r.errors:
        assert p.line is not None and p.column is not None and p.path
    rendered = r.render().splitlines()
    assert rendered[0].startswith("wf.yaml:2:1: colour: unknown top-level key")
    with pytest.raises(DSLError) as exc:
        compile_document(text, reg, filename="wf.yaml")
    assert len(exc.value.problems) == 6
    assert "wf.yaml:4:" in str(exc.value)


def test_unknown_type_suggests(reg: NodeRegistry) -> None:
    r = check(
        """
        name: x
        steps: [{id: a, type: swich}]
    """,
        reg,
    )
    p = find(r, "unknown_type")
    assert "switch" in p.message and p.path == "steps[0].type"


def test_step_keys_are_config_fields(reg: NodeRegistry) -> None:
    r = check(
        """
        name: x
        steps:
          - {id: a, type: code, code: x, langauge: python}
    """,
        reg,
    )
    p = find(r, "unknown_key")
    assert p.path == "steps[0].langauge" and "language" in p.message
    assert (p.line, p.column) == (4, 34)


def test_invalid_ids(reg: NodeRegistry) -> None:
    r = check(
        """
        name: x
        steps:
          - {id: Bad-Id, type: code, code: x}
          - {id: 7, type: code, code: y}
    """,
        reg,
    )
    assert codes(r) == ["invalid_id", "invalid_id"]
    assert r.errors[0].path == "steps[0].id"


def test_jinja_syntax_error_position(reg: NodeRegistry) -> None:
    text = """\
name: x
steps:
  - id: hello
    type: reply
    message: "Hi {{ trigger.name "
"""
    r = validate(text, reg)
    p = find(r, "template_syntax")
    assert (p.line, p.column, p.path) == (5, 14, "steps[0].message")


def test_templates_exempt_from_type_checks(reg: NodeRegistry) -> None:
    r = check(
        """
        name: x
        steps:
          - {id: l, type: loop, over: "{{ trigger.items }}", max_iterations: "{{ trigger.n }}",
             body: [{id: b, type: code, code: x}]}
          - {id: h, type: http_request, url: "https://x",
             config: {timeout_s: "{% if 1 %}3{% endif %}"}}
    """,
        reg,
    )
    assert r.valid, r.render()
    r = check(
        """
        name: x
        steps:
          - {id: h, type: http_request, url: "https://x", config: {timeout_s: soon}}
          - {id: n, type: code, code: x, timeout_s: "{{ later }}"}
    """,
        reg,
    )
    p = find(r, "invalid_config")
    assert p.path == "steps[0].config.timeout_s"
    assert find(r, "invalid_value").path == "steps[1].timeout_s"  # a node field, not config


def test_nested_config_error_paths(reg: NodeRegistry) -> None:
    r = check(
        """
        name: x
        steps:
          - id: s
            type: switch
            rules:
              - {field: a.b, route: t}
              - {field: "a..b", route: t, bogus: 1}
            default: t
          - {id: t, type: code, code: x}
    """,
        reg,
    )
    assert find(r, "unknown_key").path == "steps[0].rules[1].bogus"
    bad = find(r, "bad_path")
    assert bad.path == "steps[0].rules[1].field" and bad.line == 8


def test_dangling_references(reg: NodeRegistry) -> None:
    r = check(
        """
        name: x
        steps:
          - id: s
            type: switch
            rules: [{field: a, route: nowhere}]
          - {id: l, type: loop, over: "{{ x }}", body: [ghost_body]}
        edges:
          - {from: s, to: ghost}
          - {from: phantom, to: l}
    """,
        reg,
    )
    paths = sorted(p.path for p in r.errors if p.code == "dangling_reference")
    assert paths == ["edges[0].to", "edges[1].from", "steps[0].rules[0].route", "steps[1].body[0]"]


def test_bad_routes(reg: NodeRegistry) -> None:
    r = check(
        """
        name: x
        steps:
          - {id: a, type: code, code: x}
          - {id: h, type: human, message: ok}
          - {id: b, type: code, code: y}
        edges:
          - {from: a, to: b, route: yes}
          - {from: h, to: b, route: maybe}
    """,
        reg,
    )
    msgs = [p for p in r.errors if p.code == "bad_route"]
    assert [p.path for p in msgs] == ["edges[0]", "edges[1]"]
    assert "approved" in msgs[1].message


def test_edge_into_trigger_and_attachment_rules(reg: NodeRegistry) -> None:
    r = check(
        """
        name: x
        steps:
          - {id: a, type: code, code: x}
          - {id: calc, type: calculator}
        edges:
          - {from: a, to: trigger_manual}
          - {from: calc, to: a, kind: tool}
    """,
        reg,
    )
    assert find(r, "edge_into_trigger").path == "edges[0]"
    assert find(r, "bad_attachment").path == "edges[1]"


def test_type_mismatch_unless_template(reg: NodeRegistry) -> None:
    r = check(
        """
        name: x
        steps:
          - {id: src, type: json_source}
          - {id: sink, type: text_sink}
    """,
        reg,
    )
    assert find(r, "type_mismatch").path == "steps[1]"
    r = check(
        """
        name: x
        steps:
          - {id: src, type: json_source}
          - {id: sink, type: text_sink, text: "{{ input | tojson }}"}
    """,
        reg,
    )
    assert r.valid, r.render()


def test_cycles_but_not_loop_returns(reg: NodeRegistry) -> None:
    r = check(
        """
        name: x
        steps:
          - {id: a, type: code, code: x}
          - {id: b, type: code, code: y}
        edges:
          - {from: b, to: a}
    """,
        reg,
    )
    p = find(r, "cycle")
    assert "a → b" in p.message
    r = check(
        """
        name: x
        steps:
          - {id: l, type: loop, over: "{{ x }}", body: [{id: b, type: code, code: y}]}
    """,
        reg,
    )
    assert r.valid, r.render()


def test_bad_ports_and_loop_edges(reg: NodeRegistry) -> None:
    r = check(
        """
        name: x
        steps:
          - {id: a, type: code, code: x}
          - {id: b, type: code, code: y}
          - {id: l, type: loop, over: "{{ x }}"}
        edges:
          - {from: a, to: b, from_port: nope}
          - {from: a, to: b, kind: loop_body}
          - {from: l, to: b, kind: loop_body}
    """,
        reg,
    )
    assert find(r, "bad_port").path == "edges[0]"
    assert find(r, "bad_edge").path == "edges[1]"
    assert find(r, "bad_loop").path == "steps[2]"


def test_unreachable_is_a_warning(reg: NodeRegistry) -> None:
    r = check(
        """
        name: x
        steps:
          - id: s
            type: switch
            rules: [{field: a, route: one}]
          - {id: island, type: code, code: y}
          - {id: one, type: code, code: x}
    """,
        reg,
    )
    assert r.valid
    assert [p.path for p in r.warnings] == ["steps[1]"]
    assert r.warnings[0].code == "unreachable"
    r = check(
        """
        name: x
        triggers: []
        steps: [{id: a, type: code, code: x}]
    """,
        reg,
    )
    assert r.valid and r.warnings[0].code == "unreachable"


def test_drafts_list_missing_content(reg: NodeRegistry) -> None:
    text = """
        name: x
        steps:
          - {id: a, type: code}
          - {id: b, type: agent, tools: [http_request]}
          - {id: c, type: subworkflow, workflow: child-flow}
    """
    r = check(text, reg)
    assert sorted(codes(r)) == ["missing_content", "missing_content"]
    r = check(text, reg, draft=True)
    assert r.valid and r.graph is not None
    assert r.missing == [
        {
            "node_id": "a",
            "field": "code",
            "reason": "content",
            "message": "step 'a' (code) has no 'code' yet",
        },
        {
            "node_id": "b",
            "field": "prompt",
            "reason": "content",
            "message": "step 'b' (agent) has no 'prompt' yet",
        },
    ]
    assert missing_content(r.graph, reg) == r.missing
    r = check(text, reg, draft=True, known_workflows={"other"})
    assert r.valid and r.missing[-1]["reason"] == "workflow"
    r = check(
        text.replace("{id: a, type: code}", "{id: a, type: code, code: x}").replace(
            "tools: [http_request]", "prompt: p"
        ),
        reg,
        known_workflows={"other"},
    )
    assert codes(r) == ["unknown_workflow"]
    assert r.errors[0].path == "steps[2].workflow"
    assert check(
        text.replace("{id: a, type: code}", "{id: a, type: code, code: x}").replace(
            "tools: [http_request]", "prompt: p"
        ),
        reg,
        known_workflows={"child-flow"},
    ).valid


def test_top_level_shape_errors(reg: NodeRegistry) -> None:
    r = check(
        """
        steps: {}
        durability: always
        timeout_s: -1
    """,
        reg,
    )
    got = {(p.code, p.path) for p in r.errors}
    assert ("missing_key", "") in got
    assert ("invalid_value", "steps") in got
    assert ("invalid_value", "durability") in got
    assert ("invalid_value", "timeout_s") in got


def test_invalid_documents(reg: NodeRegistry) -> None:
    assert codes(validate("", reg)) == ["invalid_document"]
    assert codes(validate("- a\n- b\n", reg)) == ["invalid_document"]
    assert "yaml_syntax" in codes(validate("a: !!python/object:os.system x\n", reg))
    assert codes(validate("name: x\nslug: Bad Slug\n", reg)) == ["invalid_value", "invalid_slug"]


def test_to_json_shape(reg: NodeRegistry) -> None:
    r = check(
        """
        name: x
        steps:
          - {id: a, type: code, code: x}
          - {id: b, type: code, code: y, extra: 1}
    """,
        reg,
    )
    data = r.to_json()
    assert list(data) == ["valid", "errors", "warnings", "missing", "nodes", "edges"]
    assert data["valid"] is False
    assert data["errors"] == [
        {
            "line": 5,
            "column": 34,
            "path": "steps[1].extra",
            "message": "b: unknown key 'extra' for step type 'code'",
            "code": "unknown_key",
        }
    ]
    assert data["nodes"][1] == {"id": "a", "type": "code"}
    assert {"source": "a", "target": "b", "kind": "data", "route": None} in data["edges"]
    json.dumps(data)


def test_validate_graph_without_document(reg: NodeRegistry) -> None:
    g = WorkflowGraph(
        nodes=(
            Node(id="t", type="trigger_manual"),
            Node(id="a", type="code", config={}),
            Node(id="z", type="nope"),
        ),
        edges=(
            Edge(source="t", target="a"),
            Edge(source="a", target="t"),
            Edge(source="a", target="a", kind=EdgeKind.ROUTE, route="x"),
        ),
    )
    r = validate_graph(g, reg)
    got = {(p.code, p.path) for p in r.errors}
    assert ("edge_into_trigger", "edges[1]") in got
    assert ("bad_route", "edges[2]") in got
    assert ("unknown_type", "nodes.z") in got
    assert ("missing_content", "nodes.a") in got
    assert validate_graph(g, reg, draft=True).missing[0]["node_id"] == "a"
