"""Graph rules on save (SPEC §2): edges, ports, DataTypes, routes, loops, cycles, reachability.

Works on any :class:`WorkflowGraph` (from the DSL, the canvas or the API). ``Locator`` maps
nodes and edges to document paths when the graph came from a document.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from workspace.domain.graph import ATTACHMENT_KINDS, FLOW_KINDS, DataType, Edge, EdgeKind
from workspace.domain.graph import WorkflowGraph as Graph
from workspace.dsl import typeinfo as ti
from workspace.dsl.configcheck import contains_template
from workspace.sdk import NodeRegistry, NodeType

#: (code, message, kind: "node"|"edge", subject (node id or edge index), severity)
GraphFinding = tuple[str, str, str, Any, str]

_PORT_TYPED_KINDS = frozenset(
    {EdgeKind.DATA, EdgeKind.ROUTE, EdgeKind.ERROR, EdgeKind.LOOP_BODY, EdgeKind.LOOP_RETURN}
)


def _port_type(ports: tuple[Any, ...], name: str) -> DataType | None:
    for p in ports:
        if p.name == name:
            return DataType(p.type)
    return None


def check_graph(
    graph: Graph, registry: NodeRegistry, *, report_unknown: bool = False
) -> list[GraphFinding]:
    out: list[GraphFinding] = []
    nodes = graph.node_map()
    types: dict[str, NodeType | None] = {
        n.id: registry.get(n.type) if n.type in registry else None for n in graph.nodes
    }
    if report_unknown:
        seen: set[str] = set()
        for n in graph.nodes:
            if n.id in seen:
                out.append(("duplicate_id", f"duplicate node id {n.id!r}", "node", n.id, "error"))
            seen.add(n.id)
            if types[n.id] is None:
                out.append(("unknown_type", f"unknown node type {n.type!r}", "node", n.id, "error"))
    keys: set[tuple[str, ...]] = set()
    for i, edge in enumerate(graph.edges):
        if edge.key in keys:
            out.append(
                (
                    "duplicate_edge",
                    f"duplicate edge {edge.source} → {edge.target}",
                    "edge",
                    i,
                    "warning",
                )
            )
        keys.add(edge.key)
        if edge.source not in nodes or edge.target not in nodes:
            missing = edge.source if edge.source not in nodes else edge.target
            out.append(
                (
                    "dangling_reference",
                    f"edge refers to unknown node {missing!r}",
                    "edge",
                    i,
                    "error",
                )
            )
            continue
        out += [
            (c, m, "edge", i, "error")
            for c, m in _edge_problems(edge, types[edge.source], types[edge.target], graph)
        ]
    out += _loop_problems(graph, types)
    out += _upstream_problems(graph, types)
    out += _cycle_problems(graph)
    out += _reachability(graph, types)
    return out


def _edge_problems(
    edge: Edge, src: NodeType | None, dst: NodeType | None, graph: Graph
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    label = f"edge {edge.source} → {edge.target}"
    if dst is not None and dst.is_trigger:
        out.append(("edge_into_trigger", f"{label}: nothing may flow into trigger {edge.target!r}"))
        return out
    if src is None or dst is None:
        return out
    kind = edge.kind
    if kind == EdgeKind.ROUTE:
        if not src.routes:
            out.append(
                (
                    "bad_route",
                    f"{label}: route edges only leave routing nodes "
                    f"({edge.source!r} is a {src.name!r})",
                )
            )
        else:
            values = ti.safe_route_values(src, graph.node(edge.source).config)
            if values is not None and edge.route not in values:
                shown = ", ".join(sorted(values)) or "none"
                out.append(
                    (
                        "bad_route",
                        f"{label}: {edge.source!r} never emits route "
                        f"{edge.route!r} (it emits: {shown})",
                    )
                )
    if kind in ATTACHMENT_KINDS:
        if kind not in dst.attachments:
            out.append(
                (
                    "bad_attachment",
                    f"{label}: a {dst.name!r} node takes no {kind.value} attachments",
                )
            )
        if src.is_trigger:
            out.append(("bad_attachment", f"{label}: a trigger cannot be attached"))
    if kind == EdgeKind.LOOP_BODY and not ti.is_loop(src):
        out.append(("bad_edge", f"{label}: loop_body edges leave loop nodes"))
    if kind == EdgeKind.LOOP_RETURN and not ti.is_loop(dst):
        out.append(("bad_edge", f"{label}: loop_return edges go into loop nodes"))
    default_src, default_dst = ti.default_ports(kind, src)
    if kind == EdgeKind.ERROR:
        if edge.source_port != "error":
            out.append(("bad_port", f"{label}: error edges leave the 'error' port"))
    elif edge.source_port != default_src and _port_type(src.outputs, edge.source_port) is None:
        names = ", ".join(p.name for p in src.outputs) or "none"
        out.append(
            (
                "bad_port",
                f"{label}: {src.name!r} has no output port {edge.source_port!r} (ports: {names})",
            )
        )
    if edge.target_port != default_dst and _port_type(dst.inputs, edge.target_port) is None:
        names = ", ".join(p.name for p in dst.inputs) or "none"
        out.append(
            (
                "bad_port",
                f"{label}: {dst.name!r} has no input port {edge.target_port!r} (ports: {names})",
            )
        )
    if kind in _PORT_TYPED_KINDS and not out:
        s_type = (
            DataType.OBJECT
            if kind == EdgeKind.ERROR
            else (_port_type(src.outputs, edge.source_port) or DataType.ANY)
        )
        d_type = _port_type(dst.inputs, edge.target_port) or DataType.ANY
        if not s_type.compatible_with(d_type) and not contains_template(
            graph.node(edge.target).config
        ):
            out.append(
                (
                    "type_mismatch",
                    f"{label}: {s_type.value} output "
                    f"{edge.source_port!r} cannot flow into {d_type.value} input "
                    f"{edge.target_port!r} without a template",
                )
            )
    return out


def _loop_problems(graph: Graph, types: dict[str, NodeType | None]) -> list[GraphFinding]:
    out: list[GraphFinding] = []
    for n in graph.nodes:
        nt = types.get(n.id)
        if nt is None or not ti.is_loop(nt):
            continue
        has_body = any(e.kind == EdgeKind.LOOP_BODY for e in graph.outgoing(n.id))
        has_return = any(e.kind == EdgeKind.LOOP_RETURN for e in graph.incoming(n.id))
        if has_body != has_return:
            what = "a loop_return edge back" if has_body else "a loop_body edge"
            out.append(("bad_loop", f"loop {n.id!r} has no {what}", "node", n.id, "error"))
    return out


_SCOPE_KINDS = frozenset({EdgeKind.DATA, EdgeKind.ROUTE, EdgeKind.ERROR})


def _upstream_problems(graph: Graph, types: dict[str, NodeType | None]) -> list[GraphFinding]:
    """Config fields naming an earlier node (``upstream_fields``, e.g. a human's
    ``revision_target``) must name a step on a path to the node, in the same flow (not a
    trigger, not across a loop body's boundary; loop bodies have no revision rounds)."""
    out: list[GraphFinding] = []
    nodes = graph.node_map()
    preds: dict[str, list[str]] = {}
    body_entries: list[str] = []
    for e in graph.edges:
        if e.kind in _SCOPE_KINDS:
            preds.setdefault(e.target, []).append(e.source)
        elif e.kind == EdgeKind.LOOP_BODY:
            body_entries.append(e.target)
    in_bodies = _reach(body_entries, graph)

    def is_trigger(node_id: str) -> bool:
        t = types.get(node_id)
        return t is not None and t.is_trigger

    for n in graph.nodes:
        nt = types.get(n.id)
        for name in nt.upstream_fields if nt is not None else ():
            target = n.config.get(name)
            if not isinstance(target, str) or contains_template(target):
                continue
            where = f"step {n.id!r}: {name} {target!r}"
            if target not in nodes:
                out.append(("dangling_reference", f"{where} is not a step", "node", n.id, "error"))
                continue
            if n.id in in_bodies:
                message = f"{where}: revisions run in the main flow, not inside a loop body"
                out.append(("not_upstream", message, "node", n.id, "error"))
                continue
            ancestors = _reach([n.id], graph, preds) - {n.id}
            if target not in ancestors or is_trigger(target):
                earlier = [m.id for m in graph.nodes if m.id in ancestors and not is_trigger(m.id)]
                message = (
                    f"{where} is not an earlier step on the path to {n.id!r} "
                    f"(earlier steps: {', '.join(earlier) or 'none'})"
                )
                out.append(("not_upstream", message, "node", n.id, "error"))
    return out


def _reach(starts: list[str], graph: Graph, edges: dict[str, list[str]] | None = None) -> set[str]:
    """Nodes reachable from ``starts`` over ``edges`` (default: data/route/error successors)."""
    if edges is None:
        edges = {}
        for e in graph.edges:
            if e.kind in _SCOPE_KINDS:
                edges.setdefault(e.source, []).append(e.target)
    seen = set(starts)
    queue = deque(starts)
    while queue:
        for w in edges.get(queue.popleft(), []):
            if w not in seen:
                seen.add(w)
                queue.append(w)
    return seen


def _cycle_problems(graph: Graph) -> list[GraphFinding]:
    """Cycles over flow edges other than ``loop_return`` (Tarjan's SCC, iterative)."""
    succ: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    for e in graph.edges:
        if (
            e.kind in FLOW_KINDS
            and e.kind != EdgeKind.LOOP_RETURN
            and e.source in succ
            and (e.target in succ)
        ):
            succ[e.source].append(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    sccs: list[list[str]] = []
    counter = 0
    for root in succ:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            if i < len(succ[v]):
                work.append((v, i + 1))
                w = succ[v][i]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp: list[str] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in succ[v]:
                    sccs.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    order = {n.id: i for i, n in enumerate(graph.nodes)}
    out: list[GraphFinding] = []
    for comp in sccs:
        comp.sort(key=order.__getitem__)
        out.append(
            (
                "cycle",
                "cycle through " + " → ".join(comp) + " (cycles must go through "
                "a loop node's body)",
                "node",
                comp[0],
                "error",
            )
        )
    return out


def _reachability(graph: Graph, types: dict[str, NodeType | None]) -> list[GraphFinding]:
    triggers = [n.id for n in graph.nodes if (t := types.get(n.id)) is not None and t.is_trigger]
    attached = {e.source for e in graph.edges if e.kind in ATTACHMENT_KINDS}
    others = [n.id for n in graph.nodes if n.id not in attached and n.id not in triggers]
    if not triggers:
        if others:
            return [
                (
                    "unreachable",
                    "the workflow has no trigger: no step can run",
                    "node",
                    others[0],
                    "warning",
                )
            ]
        return []
    seen = set(triggers)
    queue = deque(triggers)
    succ: dict[str, list[str]] = {}
    for e in graph.edges:
        if e.kind in FLOW_KINDS:
            succ.setdefault(e.source, []).append(e.target)
    while queue:
        for w in succ.get(queue.popleft(), []):
            if w not in seen:
                seen.add(w)
                queue.append(w)
    return [
        ("unreachable", f"step {n!r} is not reachable from any trigger", "node", n, "warning")
        for n in others
        if n not in seen
    ]


Locate = Callable[[str, Any], str]
