"""Graph → DSL. Prefers the readable implicit form; falls back to ``flow: explicit``.

The exporter builds an implicit-form document (triggers, steps in node order with their
attachments, loop bodies, ``on_error``), asks the compiler which edges that form implies, and
lists only the remaining edges under ``edges:``. If the form implies an edge the graph does not
have, it emits ``flow: explicit`` with every node as a step and every edge listed. Before
returning, the text is compiled again and compared with the graph (canonical JSON, node order
included); a mismatch falls back to explicit, and an explicit mismatch raises ``DSLError``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Protocol

import yaml

from workspace.domain.graph import ATTACHMENT_KINDS, Edge, EdgeKind, Node, WorkflowGraph
from workspace.dsl import typeinfo as ti
from workspace.dsl.compiler import SETTINGS_KEYS, compile_data, slugify
from workspace.dsl.model import BODY_KEY, SHARED_STEP_KEYS
from workspace.dsl.source import parse_source
from workspace.errors import DSLError, Problem
from workspace.sdk import NodeRegistry, NodeType


class MetaLike(Protocol):
    """Anything with workflow metadata: :class:`WorkflowMeta`, a domain ``Workflow``."""

    @property
    def slug(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def tags(self) -> Any: ...


class _Flow(dict[str, Any]):
    """A mapping emitted in YAML flow style (``{x: 1, y: 2}``)."""


class _Dumper(yaml.SafeDumper):
    pass


def _repr_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and len(value) > 1 else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _repr_flow(dumper: yaml.SafeDumper, value: _Flow) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True)


_Dumper.add_representer(str, _repr_str)
_Dumper.add_representer(_Flow, _repr_flow)


def dump_yaml(doc: dict[str, Any], *, allow_unicode: bool = True) -> str:
    return yaml.dump(
        doc,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=allow_unicode,
        default_flow_style=False,
        width=100,
    )


def _plain(value: Any) -> Any:
    """Deep copy into plain dict/list values (no _Flow), for JSON."""
    return json.loads(json.dumps(value))


class _Exporter:
    def __init__(self, meta: MetaLike | None, graph: WorkflowGraph, registry: NodeRegistry) -> None:
        self.meta = meta
        self.graph = graph
        self.registry = registry
        self.types: dict[str, NodeType | None] = {
            n.id: registry.get(n.type) if n.type in registry else None for n in graph.nodes
        }
        self.nodes = list(graph.nodes)

    # --------------------------------------------------------------------------- common

    def header(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        meta = self.meta
        if meta is None:
            doc["slug"] = "workflow"
        else:
            doc["name"] = meta.name
            if slugify(meta.name) != meta.slug:
                doc["slug"] = meta.slug
            if meta.description:
                doc["description"] = meta.description
            if meta.tags:
                doc["tags"] = list(meta.tags)
        return doc

    def settings(self, doc: dict[str, Any]) -> None:
        rest: dict[str, Any] = {}
        for key, value in self.graph.settings.items():
            if key in SETTINGS_KEYS and value is not None:
                doc[key] = value
            else:
                rest[key] = value
        if rest:
            doc["settings"] = rest

    def common(self, node: Node, entry: dict[str, Any], reserved: set[str]) -> None:
        """Node fields + config, flattened unless a config key collides with a step key."""
        if node.label is not None:
            entry["label"] = node.label
        if node.retry is not None:
            entry["retry"] = node.retry.model_dump(mode="json", exclude_defaults=True)
        if node.timeout_s is not None:
            entry["timeout_s"] = node.timeout_s
        if node.join is not None:
            entry["join"] = node.join.mode if node.join.mode != "n" else _Flow(n=node.join.n)
        if any(k in reserved or k in SHARED_STEP_KEYS for k in node.config):
            entry["config"] = dict(node.config)
        else:
            entry.update(node.config)

    def layout(self, doc: dict[str, Any]) -> None:
        layout = {n.id: _Flow(x=n.position.x, y=n.position.y) for n in self.nodes if n.position}
        if layout:
            doc["layout"] = layout

    def edge_entry(self, edge: Edge) -> dict[str, Any]:
        entry = _Flow({"from": edge.source, "to": edge.target})
        implied = EdgeKind.ROUTE if edge.route is not None else EdgeKind.DATA
        if edge.route is not None:
            entry["route"] = edge.route
        if edge.kind != implied:
            entry["kind"] = edge.kind.value
        src, dst = ti.default_ports(edge.kind, self.types.get(edge.source))
        if edge.source_port != src:
            entry["from_port"] = edge.source_port
        if edge.target_port != dst:
            entry["to_port"] = edge.target_port
        return entry

    # ------------------------------------------------------------------------- explicit

    def explicit(self) -> dict[str, Any]:
        doc = self.header()
        doc["triggers"] = []
        self.settings(doc)
        doc["flow"] = "explicit"
        steps = []
        for node in self.nodes:
            entry: dict[str, Any] = {"id": node.id, "type": node.type}
            self.common(node, entry, self.structural(node))
            steps.append(entry)
        doc["steps"] = steps
        if self.graph.edges:
            doc["edges"] = [self.edge_entry(e) for e in self.graph.edges]
        self.layout(doc)
        return doc

    def structural(self, node: Node) -> set[str]:
        nt = self.types.get(node.id)
        if nt is None:
            return set()
        keys = set(ti.attachment_keys(nt))
        if ti.is_loop(nt):
            keys.add(BODY_KEY)
        return keys

    # ------------------------------------------------------------------------- implicit

    def attachment_of(self, node: Node) -> tuple[str, EdgeKind] | None:
        """(owner, kind) if ``node`` is a plain attachment: its only edge is one attachment
        edge with default ports into a type accepting it."""
        edges = [e for e in self.graph.edges if node.id in (e.source, e.target)]
        if len(edges) != 1 or edges[0].source != node.id or edges[0].kind not in ATTACHMENT_KINDS:
            return None
        e = edges[0]
        owner = self.types.get(e.target)
        nt = self.types.get(node.id)
        if owner is None or nt is None or nt.is_trigger or e.kind not in owner.attachments:
            return None
        if (e.source_port, e.target_port) != ti.DEFAULT_PORTS[e.kind]:
            return None
        if node.retry is not None or node.timeout_s is not None or node.join is not None:
            return None
        if e.kind == EdgeKind.LLM and node.type != ti.MODEL_TYPE:
            return None
        if e.kind == EdgeKind.MEMORY and node.type != ti.MEMORY_TYPE:
            return None
        return e.target, e.kind

    def attachment_entry(self, owner: str, node: Node, kind: EdgeKind) -> Any:
        suffix = {EdgeKind.LLM: "model", EdgeKind.MEMORY: "memory"}.get(kind, node.type)
        entry: dict[str, Any] = {}
        if kind == EdgeKind.TOOL:
            entry["type"] = node.type
        if node.id != f"{owner}_{suffix}":
            entry["id"] = node.id
        if node.label is not None:
            entry["label"] = node.label
        if any(k in SHARED_STEP_KEYS for k in node.config):
            entry["config"] = dict(node.config)
        else:
            entry.update(node.config)
        if kind == EdgeKind.TOOL and list(entry) == ["type"]:
            return node.type
        if kind == EdgeKind.MEMORY and not entry:
            return True
        return entry

    def implicit(self) -> dict[str, Any]:
        doc = self.header()
        i = 0
        triggers: list[Any] = []
        seen_types: Counter[str] = Counter()
        while i < len(self.nodes) and (t := self.types.get(self.nodes[i].id)) and t.is_trigger:
            triggers.append(self.trigger_entry(self.nodes[i], seen_types))
            i += 1
        if len(triggers) == 1:
            doc["trigger"] = triggers[0]
        else:
            doc["triggers"] = triggers
        self.settings(doc)
        self.pos = i
        self.attached = {n.id: a for n in self.nodes if (a := self.attachment_of(n))}
        doc["steps"] = self.block(None)
        self.layout(doc)
        return doc

    def trigger_entry(self, node: Node, seen: Counter[str]) -> Any:
        short = node.type.removeprefix("trigger_")
        if ti.resolve_trigger_type(self.registry, short) != node.type:
            short = node.type
        seen[node.type] += 1
        default_id = node.type if seen[node.type] == 1 else f"{node.type}_{seen[node.type]}"
        entry: dict[str, Any] = {"type": short}
        if node.id != default_id:
            entry["id"] = node.id
        if node.label is not None:
            entry["label"] = node.label
        if node.config:
            entry["config"] = dict(node.config)
        return short if list(entry) == ["type"] else entry

    def region(self, loop_id: str) -> set[str]:
        """Nodes reachable from the loop's body start without going back through the loop."""
        starts = [
            e.target
            for e in self.graph.edges
            if e.source == loop_id and e.kind == EdgeKind.LOOP_BODY
        ]
        seen: set[str] = set()
        todo = list(starts)
        while todo:
            n = todo.pop()
            if n in seen or n == loop_id:
                continue
            seen.add(n)
            todo += [
                e.target
                for e in self.graph.edges
                if e.source == n
                and e.kind in (EdgeKind.DATA, EdgeKind.ROUTE, EdgeKind.ERROR, EdgeKind.LOOP_BODY)
            ]
        return seen

    def block(self, inside: set[str] | None) -> list[dict[str, Any]]:
        steps: list[dict[str, Any]] = []
        while self.pos < len(self.nodes):
            node = self.nodes[self.pos]
            if inside is not None and node.id not in inside:
                break
            self.pos += 1
            entry: dict[str, Any] = {"id": node.id, "type": node.type}
            self.common(node, entry, self.structural(node))
            self.attachments(node, entry)
            errors = [
                e
                for e in self.graph.edges
                if e.source == node.id
                and e.kind == EdgeKind.ERROR
                and (e.source_port, e.target_port) == ("error", "input")
            ]
            if errors:
                entry["on_error"] = errors[0].target
            nt = self.types.get(node.id)
            if nt is not None and ti.is_loop(nt) and self.pos < len(self.nodes):
                region = self.region(node.id)
                if self.nodes[self.pos].id in region:
                    entry[BODY_KEY] = self.block(region)
            steps.append(entry)
        return steps

    def attachments(self, node: Node, entry: dict[str, Any]) -> None:
        rank = {EdgeKind.LLM: 0, EdgeKind.TOOL: 1, EdgeKind.MEMORY: 2}
        last = -1
        tools: list[Any] = []
        memory: Any = None
        while self.pos < len(self.nodes):
            nxt = self.nodes[self.pos]
            att = self.attached.get(nxt.id)
            if (
                att is None
                or att[0] != node.id
                or rank[att[1]] < last
                or (rank[att[1]] == last and att[1] != EdgeKind.TOOL)
            ):
                break
            last = rank[att[1]]
            self.pos += 1
            value = self.attachment_entry(node.id, nxt, att[1])
            if att[1] == EdgeKind.TOOL:
                tools.append(value)
            elif att[1] == EdgeKind.LLM:
                entry["model"] = value
            else:
                memory = value
        if tools:
            entry["tools"] = tools
        if memory is not None:
            entry["memory"] = memory

    # --------------------------------------------------------------------------- driver

    def render(self, doc: dict[str, Any]) -> str | None:
        """YAML text that compiles back to the graph, or None. Unicode is written as is unless
        a YAML line-break character (NEL, LS, PS) spoils it; then everything is escaped."""
        for allow_unicode in (True, False):
            text = dump_yaml(doc, allow_unicode=allow_unicode)
            src = parse_source(text)
            if isinstance(src.data, dict):
                result = compile_data(src.data, self.registry, src.positions)
                if result.graph.canonical_json() == self.graph.canonical_json():
                    return text
        return None

    def build(self) -> tuple[dict[str, Any], str]:
        doc = self.implicit()
        probe = compile_data(_plain(doc), self.registry)
        implied = Counter(e.key for e in probe.graph.edges)
        wanted = Counter(e.key for e in self.graph.edges)
        if not implied - wanted:
            extra: list[Edge] = []
            for e in self.graph.edges:
                if implied[e.key] > 0:
                    implied[e.key] -= 1
                else:
                    extra.append(e)
            if extra:
                doc["edges"] = [self.edge_entry(e) for e in extra]
                if "layout" in doc:
                    doc["layout"] = doc.pop("layout")
            text = self.render(doc)
            if text is not None:
                return doc, text
        doc = self.explicit()
        text = self.render(doc)
        if text is not None:
            return doc, text
        raise DSLError(
            [
                Problem(
                    "this graph cannot be expressed in the DSL (node types must be "
                    "canonical and configs JSON values)",
                    "not_exportable",
                )
            ]
        )


def export_document(
    meta: MetaLike | None, graph: WorkflowGraph, registry: NodeRegistry
) -> dict[str, Any]:
    return _Exporter(meta, graph, registry).build()[0]


def export_dsl(meta: MetaLike | None, graph: WorkflowGraph, registry: NodeRegistry) -> str:
    """The workflow as DSL text; ``compile(export_dsl(g)) == g``."""
    return _Exporter(meta, graph, registry).build()[1]


def export_json(
    meta: MetaLike | None, graph: WorkflowGraph, registry: NodeRegistry
) -> dict[str, Any]:
    """The same document as JSON-safe data (what the API returns)."""
    return _plain(export_document(meta, graph, registry))  # type: ignore[no-any-return]
