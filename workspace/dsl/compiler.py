"""DSL document → (:class:`WorkflowMeta`, :class:`WorkflowGraph`), per docs/graph-conventions.md.

:func:`compile_data` is structural: it builds the graph best-effort and reports what it cannot
build (unknown types, duplicate or invalid ids, dangling references, malformed edges). Node
configs and graph rules are checked by the validator on the result.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from workspace.domain.graph import Edge, EdgeKind, Node, WorkflowGraph
from workspace.dsl import typeinfo as ti
from workspace.dsl.document import (
    SETTINGS_KEYS,
    CompileResult,
    Origin,
    WorkflowMeta,
    read_layout,
    read_meta,
    read_settings,
    reserve_ids,
    slugify,
    sort_edges,
)
from workspace.dsl.source import SourceMap, join_index, join_key
from workspace.dsl.steps import Collector, NodeDecl, StepDecl, StepReader, walk
from workspace.dsl.triggers import read_triggers
from workspace.errors import Problem
from workspace.sdk import NodeRegistry, NodeType

__all__ = [
    "SETTINGS_KEYS",
    "CompileResult",
    "Compiler",
    "Origin",
    "WorkflowMeta",
    "compile_data",
    "read_layout",
    "read_meta",
    "read_settings",
    "slugify",
    "sort_edges",
]


class Compiler:
    def __init__(self, registry: NodeRegistry, smap: SourceMap, data: dict[str, Any]) -> None:
        self.registry = registry
        self.smap = smap
        self.data = data
        self.col = Collector(registry, smap, read_layout(data))
        self.reader = StepReader(self.col)
        self.origin = Origin()
        self.nodes: list[Node] = []
        self.types: dict[str, NodeType | None] = {}
        self.edges: list[Edge] = []
        self.edge_keys: set[tuple[str, ...]] = set()
        self.explicit = data.get("flow") == "explicit"
        self.implicit_keys: set[tuple[str, ...]] = set()
        self.claims: dict[str, list[str]] = {}
        self.all_steps: list[StepDecl] = []

    # ------------------------------------------------------------------------------ nodes

    def add_node(self, decl: NodeDecl) -> None:
        if not decl.valid_id:
            return
        try:
            node = Node(
                id=decl.id,
                type=decl.type,
                config=decl.config,
                label=decl.label,
                position=self.col.layout.get(decl.id),
                retry=decl.retry,
                timeout_s=decl.timeout_s,
                join=decl.join,
            )
        except ValidationError as exc:  # pragma: no cover - ids are checked before
            self.col.problem("invalid_value", str(exc.errors()[0]["msg"]), decl.path)
            return
        self.nodes.append(node)
        self.types[node.id] = decl.node_type
        self.origin.nodes[node.id] = decl.path
        self.origin.config[node.id] = decl.config_paths

    def add_edge(
        self,
        source: str,
        target: str,
        kind: EdgeKind,
        path: str,
        *,
        route: str | None = None,
        ports: tuple[str, str] | None = None,
        implicit: bool = True,
    ) -> None:
        if source not in self.types or target not in self.types:
            return
        src_port, dst_port = ports or ti.default_ports(kind, self.types[source])
        edge = Edge(
            source=source,
            target=target,
            source_port=src_port,
            target_port=dst_port,
            kind=kind,
            route=route,
        )
        if edge.key in self.edge_keys and (implicit or edge.key in self.implicit_keys):
            return
        self.edge_keys.add(edge.key)
        if implicit:
            self.implicit_keys.add(edge.key)
        self.edges.append(edge)
        self.origin.edges.setdefault(edge.key, path)

    # ---------------------------------------------------------------------------- triggers

    # ------------------------------------------------------------------------------- edges

    def chain_from(self, step_id: str) -> tuple[str, EdgeKind, str | None]:
        nt = self.types.get(step_id)
        route = ti.chain_route(nt) if nt is not None else None
        return (step_id, EdgeKind.ROUTE if route else EdgeKind.DATA, route)

    def wire_block(
        self,
        block: list[StepDecl],
        prev: list[tuple[str, EdgeKind, str | None]],
        claimed: set[str],
        loop_id: str | None,
    ) -> None:
        """The implicit chain through one block of steps (top level or a loop body)."""
        for step in block:
            decl = step.decl
            if decl.id not in self.types:
                continue
            nt = decl.node_type
            if nt is not None and nt.is_trigger:
                prev = [self.chain_from(decl.id)]
                continue
            if decl.id not in claimed:
                for source, kind, route in prev:
                    ports = ("body", "input") if kind == EdgeKind.LOOP_BODY else None
                    self.add_edge(source, decl.id, kind, decl.path, route=route, ports=ports)
            if nt is not None and ti.claiming(nt) and self.claims.get(decl.id):
                prev = []
            else:
                prev = [self.chain_from(decl.id)]
        if loop_id is not None:
            for source, _kind, _route in prev:
                if source == loop_id:
                    continue  # an empty body
                nt = self.types.get(source)
                port = ti.LOOP_DONE_PORT if nt is not None and ti.is_loop(nt) else "output"
                self.add_edge(
                    source,
                    loop_id,
                    EdgeKind.LOOP_RETURN,
                    self.origin.nodes[source],
                    ports=(port, "return"),
                )

    def body_block(
        self, step: StepDecl, by_id: dict[str, StepDecl], owner: dict[str, str]
    ) -> list[StepDecl]:
        block: list[StepDecl] = []
        for item in step.body:
            if isinstance(item, StepDecl):
                block.append(item)
                continue
            ref, path = item
            target = by_id.get(ref)
            if target is None:
                if ref not in self.col.ids:
                    self.col.problem(
                        "dangling_reference", f"loop body step {ref!r} does not exist", path
                    )
                continue
            if (
                owner.get(ref, step.decl.id) != step.decl.id
                or ref == step.decl.id
                or (target.decl.node_type is not None and target.decl.node_type.is_trigger)
            ):
                self.col.problem("invalid_value", f"step {ref!r} cannot be in this loop body", path)
                continue
            owner[ref] = step.decl.id
            block.append(target)
        return block

    def explicit_edges(self) -> None:
        items = self.data.get("edges")
        if not isinstance(items, list):
            return
        col = self.col
        for i, item in enumerate(items):
            path = join_index("edges", i)
            if not isinstance(item, dict):
                continue
            src, dst = item.get("from"), item.get("to")
            ok = True
            for end, key in ((src, "from"), (dst, "to")):
                if not isinstance(end, str):
                    ok = False  # shape error (missing/invalid) reported by the model
                elif end not in self.types and end not in col.ids:
                    col.problem(
                        "dangling_reference",
                        f"edge {key} {end!r}: no such step",
                        join_key(path, key),
                    )
                    ok = False
            route, kind_raw = item.get("route"), item.get("kind")
            try:
                kind = (
                    EdgeKind(kind_raw)
                    if kind_raw is not None
                    else (EdgeKind.ROUTE if route is not None else EdgeKind.DATA)
                )
            except ValueError:
                continue  # reported by the model
            if (kind == EdgeKind.ROUTE) != (route is not None):
                col.problem(
                    "bad_edge",
                    "a `route` edge needs a `route` value"
                    if route is None
                    else f"only route edges carry a route (kind {kind.value})",
                    path,
                )
                continue
            if route is not None and not isinstance(route, str):
                route = str(route)
            if not ok or not isinstance(src, str) or not isinstance(dst, str):
                continue
            src_port, dst_port = ti.default_ports(kind, self.types.get(src))
            fp, tp = item.get("from_port"), item.get("to_port")
            self.add_edge(
                src,
                dst,
                kind,
                path,
                route=route,
                implicit=False,
                ports=(
                    fp if isinstance(fp, str) else src_port,
                    tp if isinstance(tp, str) else dst_port,
                ),
            )

    # ----------------------------------------------------------------------------- compile

    def compile(self) -> CompileResult:
        data, col = self.data, self.col
        reserve_ids(data.get("steps"), col.reserved)
        listed = data.get("triggers")
        for entry in [data.get("trigger"), *(listed if isinstance(listed, list) else [])]:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                col.reserved.add(entry["id"])
        steps = self.reader.read_block(data.get("steps"), "steps", None)
        has_trigger_steps = any(
            s.decl.node_type is not None and s.decl.node_type.is_trigger for s in walk(steps)
        )
        triggers = read_triggers(self.data, self.col, has_trigger_steps)
        self.build(steps, triggers)
        self.explicit_edges()
        for node_id in col.layout:
            if node_id not in self.types:
                col.problem(
                    "dangling_reference",
                    f"layout for unknown node {node_id!r}",
                    join_key("layout", node_id),
                    key=True,
                    severity="warning",
                )
        return self.result(read_settings(data))

    def build(self, steps: list[StepDecl], triggers: list[NodeDecl]) -> None:
        """Nodes (triggers, then steps depth first with their attachments) and implicit edges."""
        all_steps = walk(steps)
        for step in all_steps:
            self.reader.read_attachments(step)
        for decl in triggers:
            self.add_node(decl)
        for step in all_steps:
            self.add_node(step.decl)
            for att in step.attachments:
                self.add_node(att.decl)
        for step in all_steps:
            for att in step.attachments:
                self.add_edge(att.decl.id, step.decl.id, att.kind, att.entry_path)
        self.wire(steps, all_steps, [t.id for t in triggers])
        self.all_steps = all_steps

    def result(self, settings: dict[str, Any]) -> CompileResult:
        self.check_routes(self.all_steps)
        graph = WorkflowGraph(
            nodes=tuple(self.nodes), edges=sort_edges(self.edges), settings=settings
        )
        return CompileResult(
            meta=None,
            graph=graph,
            problems=self.col.problems,
            origin=self.origin,
            explicit=self.explicit,
        )

    def wire(
        self, steps: list[StepDecl], all_steps: list[StepDecl], trigger_ids: list[str]
    ) -> None:
        col = self.col
        by_id = {s.decl.id: s for s in all_steps if s.decl.id in self.types}
        claimed: set[str] = set()
        for step in all_steps:
            nt, decl = step.decl.node_type, step.decl
            if step.on_error is not None:
                target, path = step.on_error
                if target in self.types and decl.id in self.types:
                    claimed.add(target)
                    self.add_edge(decl.id, target, EdgeKind.ERROR, path)
                elif target not in col.ids:
                    col.problem(
                        "dangling_reference", f"on_error handler {target!r} does not exist", path
                    )
            if nt is not None and ti.claiming(nt):
                targets = [
                    r for r in ti.declared_routes(nt, decl.config) if r in by_id and r != decl.id
                ]
                self.claims[decl.id] = targets
                claimed.update(targets)
                if not self.explicit:
                    for r in targets:
                        self.add_edge(decl.id, r, EdgeKind.ROUTE, decl.path, route=r)
        owner: dict[str, str] = {}
        bodies = {s.decl.id: self.body_block(s, by_id, owner) for s in all_steps if s.has_body}
        if self.explicit:
            return
        top = [s for s in steps if s.decl.id not in owner]
        self.wire_block(top, [(t, EdgeKind.DATA, None) for t in trigger_ids], claimed, None)
        for loop_id, block in bodies.items():
            if loop_id in self.types:
                self.wire_block(block, [(loop_id, EdgeKind.LOOP_BODY, None)], claimed, loop_id)

    def check_routes(self, all_steps: list[StepDecl]) -> None:
        """Switch-style routes (``rules[].route`` / ``default``) must lead somewhere."""
        for step in all_steps:
            nt, decl = step.decl.node_type, step.decl
            if nt is None or not nt.routes or decl.id not in self.types:
                continue
            emitted = {e.route for e in self.edges if e.source == decl.id and e.route}
            rules = decl.config.get("rules")
            refs: list[tuple[str, str]] = []
            if isinstance(rules, list):
                base = decl.config_paths.get("rules", join_key(decl.path, "rules"))
                refs += [
                    (r["route"], join_key(join_index(base, k), "route"))
                    for k, r in enumerate(rules)
                    if isinstance(r, dict) and isinstance(r.get("route"), str)
                ]
            if isinstance(decl.config.get("default"), str):
                refs.append(
                    (
                        decl.config["default"],
                        decl.config_paths.get("default", join_key(decl.path, "default")),
                    )
                )
            for route, path in refs:
                if route not in emitted and route not in self.col.ids:
                    self.col.problem(
                        "dangling_reference",
                        f"route {route!r} leads nowhere: "
                        "no step with that id and no edge with that route",
                        path,
                    )


def compile_data(
    data: dict[str, Any], registry: NodeRegistry, smap: SourceMap | None = None
) -> CompileResult:
    """Compile a parsed document (``based_on`` documents go through :mod:`patches`)."""
    smap = smap or SourceMap()
    problems: list[Problem] = []
    meta = read_meta(data, smap, problems)
    result = Compiler(registry, smap, data).compile()
    result.meta = meta
    result.problems[:0] = problems
    return result
