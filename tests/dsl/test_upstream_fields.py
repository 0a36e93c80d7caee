"""Config fields naming an earlier step (a human's ``revision_target``) are checked on save."""

from __future__ import annotations

import pytest

from workspace.domain import Edge, EdgeKind, Node, WorkflowGraph
from workspace.dsl import validate, validate_graph
from workspace.sdk import NodeRegistry


@pytest.fixture(scope="module")
def real() -> NodeRegistry:
    return NodeRegistry.discover()


def doc(target: str) -> str:
    return f"""
name: reviewed
trigger: manual
steps:
  - {{id: draft, type: transform, template: "x"}}
  - {{id: review, type: human, options: [approve, request_revision], revision_target: {target}}}
  - {{id: publish, type: transform, template: "y"}}
"""


def test_an_earlier_step_is_a_valid_revision_target(real: NodeRegistry) -> None:
    report = validate(doc("draft"), real)
    assert report.valid, report.render()


@pytest.mark.parametrize(
    ("target", "code", "says"),
    [
        ("publish", "not_upstream", "'publish' is not an earlier step on the path to 'review'"),
        ("review", "not_upstream", "is not an earlier step"),
        ("trigger_manual", "not_upstream", "(earlier steps: draft)"),
        ("ghost", "dangling_reference", "revision_target 'ghost' is not a step"),
    ],
)
def test_a_revision_target_that_is_not_upstream_is_refused(
    real: NodeRegistry, target: str, code: str, says: str
) -> None:
    report = validate(doc(target), real)
    assert not report.valid
    (problem,) = report.errors
    assert problem.code == code
    assert says in problem.message
    assert problem.path == "steps[1]" and problem.line == 6


def test_a_side_branch_is_not_upstream(real: NodeRegistry) -> None:
    report = validate(
        """
name: branches
flow: explicit
trigger: manual
steps:
  - {id: left, type: transform, template: "l"}
  - {id: right, type: transform, template: "r"}
  - {id: review, type: human, options: [approve, request_revision], revision_target: right}
edges:
  - {from: trigger_manual, to: left}
  - {from: trigger_manual, to: right}
  - {from: left, to: review}
""",
        real,
    )
    assert [p.code for p in report.errors] == ["not_upstream"]
    assert "(earlier steps: left)" in report.errors[0].message


def test_no_revision_rounds_inside_loop_bodies(real: NodeRegistry) -> None:
    report = validate(
        """
name: in-loop
trigger: manual
steps:
  - id: each
    type: loop
    over: "{{ trigger.items }}"
    body:
      - {id: line, type: transform, template: "x"}
      - {id: ok, type: human, options: [approve, request_revision], revision_target: line}
""",
        real,
    )
    assert [p.code for p in report.errors] == ["not_upstream"]
    assert "not inside a loop body" in report.errors[0].message


def test_a_templated_target_is_checked_when_the_run_renders_it(real: NodeRegistry) -> None:
    assert validate(doc('"{{ trigger.target }}"'), real).valid


def test_revision_is_a_reserved_step_id(real: NodeRegistry) -> None:
    report = validate(
        """
name: reserved
trigger: manual
steps:
  - {id: revision, type: transform, template: "x"}
""",
        real,
    )
    assert [p.code for p in report.errors] == ["reserved_id"]


def test_graphs_from_other_surfaces_get_the_same_check(real: NodeRegistry) -> None:
    graph = WorkflowGraph(
        nodes=[
            Node(id="trigger_manual", type="trigger_manual"),
            Node(id="draft", type="transform", config={"template": "x"}),
            Node(
                id="review",
                type="human",
                config={"options": ["approve", "request_revision"], "revision_target": "later"},
            ),
            Node(id="later", type="transform", config={"template": "y"}),
        ],
        edges=[
            Edge(source="trigger_manual", target="draft"),
            Edge(source="draft", target="review"),
            Edge(source="review", target="later", kind=EdgeKind.ROUTE, route="approved"),
        ],
    )
    report = validate_graph(graph, real)
    assert [p.code for p in report.errors] == ["not_upstream"]
    assert report.errors[0].path == "nodes.review"
