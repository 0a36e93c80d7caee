"""Trigger-scoped topology of a workflow graph (SPEC §4.1).

Only nodes reachable from the run's trigger are scheduled. Loop bodies are scopes of their own:
their nodes are run by the loop node, not by the main schedule. Attachment nodes are never
scheduled; they are listed per consumer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from workspace.domain.graph import ATTACHMENT_KINDS, Edge, EdgeKind, Node, WorkflowGraph
from workspace.errors import ValidationError
from workspace.sdk.models import Attached

#: edges that schedule within one scope (loop edges open and close body scopes)
_SCOPE_KINDS = frozenset({EdgeKind.DATA, EdgeKind.ROUTE, EdgeKind.ERROR})


@dataclass(frozen=True)
class Scope:
    """A set of nodes scheduled together: the main flow, or one loop's body."""

    nodes: tuple[str, ...]  # in declaration order
    #: incoming scheduling edges per node, restricted to this scope
    incoming: dict[str, tuple[Edge, ...]]
    #: successors per node within this scope (deduplicated, declaration order)
    successors: dict[str, tuple[str, ...]]
    #: the nodes a loop body starts at (targets of loop_body edges) — empty for the main scope
    entries: tuple[str, ...] = ()
    #: sources of loop_return edges (whose output is the iteration result)
    returns: tuple[str, ...] = ()

    def topological(self) -> list[str]:
        indeg = {n: 0 for n in self.nodes}
        for n in self.nodes:
            for e in self.incoming[n]:
                if e.source in indeg:
                    indeg[n] += 1
        order: list[str] = []
        ready = deque(n for n in self.nodes if indeg[n] == 0)
        while ready:
            n = ready.popleft()
            order.append(n)
            for s in self.successors[n]:
                indeg[s] -= len([e for e in self.incoming[s] if e.source == n])
                if indeg[s] == 0:
                    ready.append(s)
        if len(order) != len(self.nodes):
            stuck = sorted(set(self.nodes) - set(order))
            raise ValidationError(
                f"cycle without a loop node through {', '.join(stuck)}", code="cycle"
            )
        return order


@dataclass(frozen=True)
class Topology:
    graph: WorkflowGraph
    trigger_id: str
    main: Scope
    loops: dict[str, Scope] = field(default_factory=dict)
    attachments: dict[str, tuple[Edge, ...]] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)  # declaration index

    def attached(self, node_id: str) -> tuple[Attached, ...]:
        """The nodes attached to ``node_id`` (llm / tool / memory edges), in edge order."""
        out = []
        for edge in self.attachments.get(node_id, ()):
            node = self.graph.node(edge.source)
            out.append(Attached(node.id, node.type, edge.kind.value, dict(node.config), node.label))
        return tuple(out)

    @property
    def nodes(self) -> dict[str, Node]:
        return self.graph.node_map()

    def scope_of_loop(self, loop_id: str) -> Scope:
        return self.loops[loop_id]


def _bfs(starts: Iterable[str], out: dict[str, list[Edge]]) -> list[str]:
    seen: list[str] = []
    seen_set: set[str] = set()
    queue = deque(starts)
    while queue:
        n = queue.popleft()
        if n in seen_set:
            continue
        seen_set.add(n)
        seen.append(n)
        for e in out.get(n, ()):
            if e.kind in _SCOPE_KINDS and e.target not in seen_set:
                queue.append(e.target)
    return seen


def _scope(
    members: Iterable[str],
    graph: WorkflowGraph,
    order: dict[str, int],
    entries: tuple[str, ...] = (),
    returns: tuple[str, ...] = (),
) -> Scope:
    member_set = set(members)
    nodes = tuple(sorted(member_set, key=order.__getitem__))
    incoming: dict[str, list[Edge]] = {n: [] for n in nodes}
    successors: dict[str, list[str]] = {n: [] for n in nodes}
    for e in graph.edges:
        if e.kind in _SCOPE_KINDS and e.source in member_set and e.target in member_set:
            incoming[e.target].append(e)
            if e.target not in successors[e.source]:
                successors[e.source].append(e.target)
    return Scope(
        nodes=nodes,
        incoming={k: tuple(v) for k, v in incoming.items()},
        successors={k: tuple(sorted(v, key=order.__getitem__)) for k, v in successors.items()},
        entries=entries,
        returns=returns,
    )


def build_topology(graph: WorkflowGraph, trigger_id: str) -> Topology:
    nodes = graph.node_map()
    if trigger_id not in nodes:
        raise ValidationError(f"workflow has no trigger {trigger_id!r}", code="unknown_trigger")
    order = {n.id: i for i, n in enumerate(graph.nodes)}
    out: dict[str, list[Edge]] = {}
    attachments: dict[str, list[Edge]] = {}
    for e in graph.edges:
        if e.kind in ATTACHMENT_KINDS:
            attachments.setdefault(e.target, []).append(e)
        else:
            out.setdefault(e.source, []).append(e)

    main_nodes = _bfs([trigger_id], out)
    loops: dict[str, Scope] = {}
    pending = [n for n in main_nodes]
    while pending:
        n = pending.pop()
        body_entries = tuple(e.target for e in out.get(n, ()) if e.kind == EdgeKind.LOOP_BODY)
        if not body_entries or n in loops:
            continue
        body = _bfs(body_entries, out)
        returns = tuple(
            e.source for e in graph.edges if e.kind == EdgeKind.LOOP_RETURN and e.target == n
        )
        loops[n] = _scope(body, graph, order, body_entries, returns)
        pending.extend(body)
    return Topology(
        graph=graph,
        trigger_id=trigger_id,
        main=_scope(main_nodes, graph, order),
        loops=loops,
        attachments={k: tuple(v) for k, v in attachments.items()},
        order=order,
    )
