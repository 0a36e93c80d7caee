"""``DraftEditor``: node and edge edits on a workflow's draft (the REST API's `nodes` and
`edges` resources, and the canvas). Every edit is validated as a draft with all problems
reported, and the draft's DSL is re-exported, so the DSL, notebook and canvas views stay one
workflow (SPEC §1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from workspace.domain.graph import Edge, Node, WorkflowGraph
from workspace.errors import ConflictError, NotFoundError, ValidationError
from workspace.runtime.workflows import WorkflowService

__all__ = ["DraftEditor"]

#: node fields an update may set (its id is its identity)
NODE_FIELDS = frozenset({"type", "config", "label", "position", "retry", "timeout_s", "join"})


def _invalid(what: str, exc: PydanticValidationError) -> ValidationError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return ValidationError(
        f"invalid {what}: {where + ': ' if where else ''}{first['msg']}", code=f"bad_{what}"
    )


class DraftEditor:
    def __init__(self, workflows: WorkflowService) -> None:
        self.workflows = workflows

    def nodes(self, slug: str) -> list[Node]:
        return list(self.workflows.draft(slug).graph.nodes)

    def edges(self, slug: str) -> list[Edge]:
        return list(self.workflows.draft(slug).graph.edges)

    def add_node(self, slug: str, data: Mapping[str, Any]) -> Node:
        try:
            node = Node.model_validate(data)
        except PydanticValidationError as exc:
            raise _invalid("node", exc) from None

        def change(graph: WorkflowGraph) -> WorkflowGraph:
            if any(n.id == node.id for n in graph.nodes):
                raise ConflictError(f"node {node.id!r} exists", code="node_exists")
            return graph.model_copy(update={"nodes": (*graph.nodes, node)})

        self.workflows.edit_draft(slug, change)
        return node

    def update_node(self, slug: str, node_id: str, fields: Mapping[str, Any]) -> Node:
        unknown = set(fields) - NODE_FIELDS
        if unknown:
            raise ValidationError(
                f"a node update sets {sorted(NODE_FIELDS)}, not {sorted(unknown)}",
                code="bad_node",
            )
        updated: list[Node] = []

        def change(graph: WorkflowGraph) -> WorkflowGraph:
            node = self._node(graph, node_id)
            try:
                new = Node.model_validate({**node.model_dump(), **fields})
            except PydanticValidationError as exc:
                raise _invalid("node", exc) from None
            updated.append(new)
            nodes = tuple(new if n.id == node_id else n for n in graph.nodes)
            return graph.model_copy(update={"nodes": nodes})

        self.workflows.edit_draft(slug, change)
        return updated[0]

    def remove_node(self, slug: str, node_id: str) -> None:
        """Remove the node and every edge touching it."""

        def change(graph: WorkflowGraph) -> WorkflowGraph:
            self._node(graph, node_id)
            return graph.model_copy(
                update={
                    "nodes": tuple(n for n in graph.nodes if n.id != node_id),
                    "edges": tuple(e for e in graph.edges if node_id not in (e.source, e.target)),
                }
            )

        self.workflows.edit_draft(slug, change)

    def add_edge(self, slug: str, data: Mapping[str, Any]) -> Edge:
        try:
            edge = Edge.model_validate(data)
        except PydanticValidationError as exc:
            raise _invalid("edge", exc) from None

        def change(graph: WorkflowGraph) -> WorkflowGraph:
            if any(e.key == edge.key for e in graph.edges):
                raise ConflictError("this edge exists", code="edge_exists")
            return graph.model_copy(update={"edges": (*graph.edges, edge)})

        self.workflows.edit_draft(slug, change)
        return edge

    def remove_edge(self, slug: str, data: Mapping[str, Any]) -> None:
        try:
            edge = Edge.model_validate(data)
        except PydanticValidationError as exc:
            raise _invalid("edge", exc) from None

        def change(graph: WorkflowGraph) -> WorkflowGraph:
            kept = tuple(e for e in graph.edges if e.key != edge.key)
            if len(kept) == len(graph.edges):
                raise NotFoundError("no such edge in the draft", code="edge_not_found")
            return graph.model_copy(update={"edges": kept})

        self.workflows.edit_draft(slug, change)

    @staticmethod
    def _node(graph: WorkflowGraph, node_id: str) -> Node:
        try:
            return graph.node(node_id)
        except KeyError:
            raise NotFoundError(
                f"no node {node_id!r} in the draft", code="node_not_found"
            ) from None
