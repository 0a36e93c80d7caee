"""Structural diff of two workflow graphs."""

from __future__ import annotations

from workspace.domain.diff import graph_diff
from workspace.domain.graph import Edge, EdgeKind, Node, WorkflowGraph


def g(nodes: list[Node], edges: list[Edge], **settings: object) -> WorkflowGraph:
    return WorkflowGraph(nodes=tuple(nodes), edges=tuple(edges), settings=dict(settings))


def test_nodes_edges_and_settings() -> None:
    t = Node(id="trigger_manual", type="trigger_manual")
    a = Node(id="a", type="transform", config={"template": "x"})
    b = Node(id="b", type="transform", config={"template": "y"})
    before = g([t, a, b], [Edge(source="trigger_manual", target="a"), Edge(source="a", target="b")],
               timeout_s=10)  # fmt: skip
    a2 = a.model_copy(update={"config": {"template": "x2"}, "label": "A"})
    c = Node(id="c", type="reply", config={"text": "hi"})
    after = g(
        [t, a2, c],
        [
            Edge(source="trigger_manual", target="a"),
            Edge(source="a", target="c", kind=EdgeKind.ROUTE, route="go"),
        ],
        timeout_s=20,
        durability="async",
    )
    d = graph_diff(before, after)
    assert [n.id for n in d.nodes_added] == ["c"]
    assert [n.id for n in d.nodes_removed] == ["b"]
    assert [(c.node_id, c.fields) for c in d.nodes_changed] == [
        ("a", {"config": ({"template": "x"}, {"template": "x2"}), "label": (None, "A")})
    ]
    assert [(e.source, e.target) for e in d.edges_added] == [("a", "c")]
    assert [(e.source, e.target) for e in d.edges_removed] == [("a", "b")]
    assert d.settings_changed == {"durability": (None, "async"), "timeout_s": (10, 20)}
    out = d.to_dict()
    assert out["nodes"]["removed"] == ["b"]
    assert out["nodes"]["changed"][0]["fields"]["label"] == {"before": None, "after": "A"}
    assert out["edges"]["added"] == [
        {"source": "a", "target": "c", "source_port": "output", "target_port": "input",
         "kind": "route", "route": "go"}
    ]  # fmt: skip
    assert not d.empty and graph_diff(after, after).empty
