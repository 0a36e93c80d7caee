"""``graph_diff``: what changed between two versions of a workflow (SPEC §2): nodes and edges
added, removed or changed, and the workflow settings that changed. Pure; the DSL text diff is
made where the DSL lives (runtime)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workspace.domain.graph import Edge, Node, WorkflowGraph

__all__ = ["GraphDiff", "NodeChange", "graph_diff"]

_NODE_FIELDS = ("type", "config", "label", "position", "retry", "timeout_s", "join")


@dataclass(frozen=True)
class NodeChange:
    node_id: str
    #: field → (before, after), JSON values
    fields: dict[str, tuple[Any, Any]]


@dataclass(frozen=True)
class GraphDiff:
    nodes_added: list[Node] = field(default_factory=list)
    nodes_removed: list[Node] = field(default_factory=list)
    nodes_changed: list[NodeChange] = field(default_factory=list)
    edges_added: list[Edge] = field(default_factory=list)
    edges_removed: list[Edge] = field(default_factory=list)
    settings_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (
            self.nodes_added
            or self.nodes_removed
            or self.nodes_changed
            or self.edges_added
            or self.edges_removed
            or self.settings_changed
        )

    def to_dict(self) -> dict[str, Any]:
        def edge(e: Edge) -> dict[str, Any]:
            return e.model_dump(mode="json", exclude_none=True)

        return {
            "nodes": {
                "added": [n.model_dump(mode="json", exclude_none=True) for n in self.nodes_added],
                "removed": [n.id for n in self.nodes_removed],
                "changed": [
                    {"id": c.node_id, "fields": _before_after(c.fields)} for c in self.nodes_changed
                ],
            },
            "edges": {
                "added": [edge(e) for e in self.edges_added],
                "removed": [edge(e) for e in self.edges_removed],
            },
            "settings": _before_after(self.settings_changed),
        }


def _before_after(fields: dict[str, tuple[Any, Any]]) -> dict[str, dict[str, Any]]:
    return {k: {"before": b, "after": a} for k, (b, a) in fields.items()}


def _json(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(mode="json", exclude_none=True) if callable(dump) else value


def graph_diff(before: WorkflowGraph, after: WorkflowGraph) -> GraphDiff:
    """Nodes matched by id, edges by their full key; lists in ``after``'s (or ``before``'s)
    declaration order."""
    old, new = before.node_map(), after.node_map()
    changed = []
    for node in after.nodes:
        prior = old.get(node.id)
        if prior is None:
            continue
        fields = {
            name: (_json(getattr(prior, name)), _json(getattr(node, name)))
            for name in _NODE_FIELDS
            if getattr(prior, name) != getattr(node, name)
        }
        if fields:
            changed.append(NodeChange(node.id, fields))
    old_edges = {e.key for e in before.edges}
    new_edges = {e.key for e in after.edges}
    keys = set(before.settings) | set(after.settings)
    return GraphDiff(
        nodes_added=[n for n in after.nodes if n.id not in old],
        nodes_removed=[n for n in before.nodes if n.id not in new],
        nodes_changed=changed,
        edges_added=[e for e in after.edges if e.key not in old_edges],
        edges_removed=[e for e in before.edges if e.key not in new_edges],
        settings_changed={
            k: (before.settings.get(k), after.settings.get(k))
            for k in sorted(keys)
            if before.settings.get(k) != after.settings.get(k)
        },
    )
