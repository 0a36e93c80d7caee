"""Fork and patch: ``based_on: <slug>`` + ``patches: [...]`` applied to the base graph.

The caller supplies ``get_base(slug)`` returning the base workflow's DSL text or its
:class:`WorkflowGraph` (None if it does not exist). Patches apply in order; each problem names
the patch parameter it is about (``patches[1].step_id``) with its position.

Actions and accepted parameter spellings (Pipelit's and ours):

* every action naming a step: ``step_id`` | ``agent_id`` | ``node_id`` | ``step`` (a string)
* ``add_step``: ``step`` | ``node`` (a step mapping, as under ``steps:``), ``after`` |
  ``after_step`` | ``after_id`` | ``insert_after`` (optional). The step goes between ``after``
  and its data successors (or after it, if it has none); without ``after`` it is appended
  unconnected.
* ``remove_step``: removes the step, its attachment nodes and edges; each flow predecessor is
  reconnected to each data/route successor (keeping the predecessor's edge kind and route).
* ``update_prompt``: ``prompt`` | ``system_prompt`` (the node's prompt field), ``snippet`` |
  ``code`` (a code node's code), ``message``, ``template``.
* ``update_config``: ``config`` | ``updates`` | ``values`` — shallow-merged into the config.
* ``add_tool``: ``tool`` (type name or ``{type, id?, ...config}``) | ``tool_type`` (+ ``config``
  | ``tool_config``), optional new node id ``tool_node_id`` | ``tool_id``.
* ``remove_tool``: ``tool_node_id`` | ``tool_id`` (a node id), or ``tool_type`` | ``tool`` (a
  type name; with a step id only that agent's tools of that type, else every such tool).
* ``update_trigger``: ``trigger`` (as in the DSL: ``chat`` or ``{type, config}``) or
  ``trigger_type`` | ``type`` (+ ``config``); ``trigger_id`` picks one of several triggers.
* ``update_model``: ``model`` | ``config`` (a model mapping or string). With a step id: that
  step's ``ai_model`` attachment is replaced (or created); without: the workflow default model.
"""

from __future__ import annotations

from typing import Any

from workspace.domain.graph import ATTACHMENT_KINDS, Edge, EdgeKind, Node, WorkflowGraph
from workspace.dsl import typeinfo as ti
from workspace.dsl.compiler import (
    Compiler,
    Origin,
)
from workspace.dsl.source import SourceMap, join_key
from workspace.errors import Problem
from workspace.sdk import NodeRegistry

STEP_KEYS = ("step_id", "agent_id", "node_id", "step")
ACTIONS = (
    "add_step",
    "remove_step",
    "update_prompt",
    "update_config",
    "add_tool",
    "remove_tool",
    "update_trigger",
    "update_model",
)
FLOW_IN = (EdgeKind.DATA, EdgeKind.ROUTE, EdgeKind.LOOP_BODY)
FLOW_OUT = (EdgeKind.DATA, EdgeKind.ROUTE, EdgeKind.LOOP_RETURN)


class PatchError(Exception):
    def __init__(self, code: str, message: str, path: str) -> None:
        super().__init__(message)
        self.code, self.message, self.path = code, message, path


def _param(patch: dict[str, Any], path: str, *names: str) -> tuple[Any, str]:
    for name in names:
        if name in patch:
            return patch[name], join_key(path, name)
    return None, join_key(path, names[0])


class Patcher:
    def __init__(self, registry: NodeRegistry, smap: SourceMap, graph: WorkflowGraph) -> None:
        self.registry = registry
        self.smap = smap
        self.nodes: list[Node] = list(graph.nodes)
        self.edges: list[Edge] = list(graph.edges)
        self.settings: dict[str, Any] = dict(graph.settings)
        self.origin = Origin(
            nodes={n.id: "based_on" for n in graph.nodes},
            edges={e.key: "based_on" for e in graph.edges},
        )
        self.problems: list[Problem] = []

    # ------------------------------------------------------------------------ helpers

    def ids(self) -> set[str]:
        return {n.id for n in self.nodes}

    def find(self, node_id: Any, path: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        if node_id is None:
            raise PatchError("bad_patch", "this action needs a step id (`step_id`)", path)
        raise PatchError("dangling_reference", f"no step {node_id!r} in the workflow", path)

    def step_of(self, patch: dict[str, Any], path: str) -> tuple[Node, str]:
        value, p = _param(patch, path, *STEP_KEYS)
        if isinstance(value, dict):
            value = None
        return self.find(value, p), p

    def replace(self, node: Node, **changes: Any) -> Node:
        new = node.model_copy(update=changes)
        new = Node.model_validate(new.model_dump())
        self.nodes = [new if n.id == node.id else n for n in self.nodes]
        return new

    def node_type(self, node: Node) -> Any:
        return self.registry.get(node.type) if node.type in self.registry else None

    def add_edge(self, edge: Edge, path: str) -> None:
        if edge.key not in {e.key for e in self.edges}:
            self.edges.append(edge)
            self.origin.edges.setdefault(edge.key, path)

    def attachments_of(self, node_id: str) -> list[str]:
        return [e.source for e in self.edges if e.target == node_id and e.kind in ATTACHMENT_KINDS]

    def insert_after(self, anchor: str | None, new_nodes: list[Node]) -> None:
        if anchor is None:
            self.nodes += new_nodes
            return
        ids = [n.id for n in self.nodes]
        pos = ids.index(anchor)
        attached = set(self.attachments_of(anchor))
        while pos + 1 < len(ids) and ids[pos + 1] in attached:
            pos += 1
        self.nodes[pos + 1 : pos + 1] = new_nodes

    def remove_nodes(self, doomed: set[str]) -> None:
        self.nodes = [n for n in self.nodes if n.id not in doomed]
        self.edges = [e for e in self.edges if e.source not in doomed and e.target not in doomed]

    def chain_edge(self, source: Node, target: str, target_port: str = "input") -> Edge:
        nt = self.node_type(source)
        route = ti.chain_route(nt) if nt is not None else None
        kind = EdgeKind.ROUTE if route else EdgeKind.DATA
        src_port, _ = ti.default_ports(kind, nt)
        return Edge(
            source=source.id,
            target=target,
            kind=kind,
            route=route,
            source_port=src_port,
            target_port=target_port,
        )

    # ------------------------------------------------------------------------ actions

    def apply(self, patch: Any, path: str) -> None:
        if not isinstance(patch, dict):
            raise PatchError("bad_patch", "a patch is a mapping with an `action`", path)
        action = patch.get("action")
        if action not in ACTIONS:
            raise PatchError(
                "unknown_action",
                f"unknown patch action {action!r} (actions: {', '.join(ACTIONS)})",
                join_key(path, "action"),
            )
        getattr(self, f"do_{action}")(patch, path)

    def do_add_step(self, patch: dict[str, Any], path: str) -> None:
        raw, raw_path = _param(patch, path, "step", "node")
        if not isinstance(raw, dict):
            raise PatchError("bad_patch", "add_step needs a `step` mapping", raw_path)
        after, after_path = _param(patch, path, "after", "after_step", "after_id", "insert_after")
        anchor = self.find(after, after_path) if after is not None else None
        compiler = Compiler(self.registry, self.smap, {})
        for node_id in self.ids():
            compiler.col.ids[node_id] = "based_on"
        step = compiler.reader.read_step(raw, raw_path, len(self.nodes), None)
        self.problems += compiler.col.problems
        if step is None or not step.decl.valid_id:
            return
        compiler.col.problems = self.problems
        compiler.build([step], [])
        new_nodes = compiler.nodes
        self.origin.nodes.update(compiler.origin.nodes)
        self.origin.config.update(compiler.origin.config)
        self.insert_after(anchor.id if anchor else None, new_nodes)
        for e in compiler.edges:
            self.add_edge(e, compiler.origin.edges.get(e.key, raw_path))
        new_id = step.decl.id
        existing = self.ids()
        if step.on_error is not None and step.on_error[0] in existing:
            self.add_edge(
                Edge(
                    source=new_id, target=step.on_error[0], kind=EdgeKind.ERROR, source_port="error"
                ),
                step.on_error[1],
            )
        nt = step.decl.node_type
        if nt is not None and ti.claiming(nt):
            for route in ti.declared_routes(nt, step.decl.config):
                if route in existing and route != new_id and route not in compiler.types:
                    self.add_edge(
                        Edge(source=new_id, target=route, kind=EdgeKind.ROUTE, route=route),
                        raw_path,
                    )
        new_node = next(n for n in self.nodes if n.id == new_id)
        if anchor is None:
            return
        chain = ti.chain_route(self.node_type(anchor)) if self.node_type(anchor) else None
        successors = [
            e
            for e in self.edges
            if e.source == anchor.id
            and e.target != new_id
            and (e.kind == EdgeKind.DATA or (e.kind == EdgeKind.ROUTE and e.route == chain))
        ]
        if not successors:
            self.add_edge(self.chain_edge(anchor, new_id), raw_path)
            return
        for e in successors:
            self.edges.remove(e)
            self.add_edge(e.model_copy(update={"target": new_id, "target_port": "input"}), raw_path)
            self.add_edge(self.chain_edge(new_node, e.target, e.target_port), raw_path)

    def do_remove_step(self, patch: dict[str, Any], path: str) -> None:
        node, _ = self.step_of(patch, path)
        incoming = [e for e in self.edges if e.target == node.id and e.kind in FLOW_IN]
        outgoing = [e for e in self.edges if e.source == node.id and e.kind in FLOW_OUT]
        attached = {
            a
            for a in self.attachments_of(node.id)
            if all(e.target == node.id for e in self.edges if e.source == a)
        }
        self.remove_nodes({node.id} | attached)
        for i in incoming:
            for o in outgoing:
                if i.source == o.target or {i.source, o.target} & attached:
                    continue
                if o.kind == EdgeKind.LOOP_RETURN:
                    if i.kind == EdgeKind.LOOP_BODY:
                        continue  # the body is now empty
                    edge = Edge(
                        source=i.source,
                        target=o.target,
                        kind=EdgeKind.LOOP_RETURN,
                        source_port=i.source_port if i.kind == EdgeKind.DATA else "output",
                        target_port=o.target_port,
                    )
                else:
                    edge = Edge(
                        source=i.source,
                        source_port=i.source_port,
                        kind=i.kind,
                        route=i.route,
                        target=o.target,
                        target_port=o.target_port,
                    )
                self.add_edge(edge, path)

    def do_update_prompt(self, patch: dict[str, Any], path: str) -> None:
        node, _ = self.step_of(patch, path)
        nt = self.node_type(node)
        fields = set(nt.Config.model_fields) if nt is not None else set()
        updates: dict[str, Any] = {}
        prompt, _ = _param(patch, path, "prompt", "system_prompt")
        if prompt is not None:
            names = ("prompt", "system_prompt")
            key: str = next((k for k in names if k in node.config), "") or next(
                (k for k in names if k in fields), "prompt"
            )
            updates[key] = prompt
        code, _ = _param(patch, path, "snippet", "code")
        if code is not None:
            updates["snippet" if "snippet" in node.config else "code"] = code
        for key in ("message", "template"):
            if key in patch:
                updates[key] = patch[key]
        if not updates:
            raise PatchError(
                "bad_patch",
                "update_prompt needs `prompt` (or `snippet`/`code`, `message`, `template`)",
                path,
            )
        self.replace(node, config={**node.config, **updates})

    def do_update_config(self, patch: dict[str, Any], path: str) -> None:
        node, _ = self.step_of(patch, path)
        updates, p = _param(patch, path, "config", "updates", "values")
        if not isinstance(updates, dict):
            raise PatchError("bad_patch", "update_config needs a `config` mapping", p)
        self.replace(node, config={**node.config, **updates})
        for key in updates:
            self.origin.config.setdefault(node.id, {})[key] = join_key(p, key)

    def do_add_tool(self, patch: dict[str, Any], path: str) -> None:
        node, _ = self.step_of(patch, path)
        nt = self.node_type(node)
        if nt is None or EdgeKind.TOOL not in nt.attachments:
            raise PatchError("bad_patch", f"step {node.id!r} ({node.type}) takes no tools", path)
        tool, tp = _param(patch, path, "tool", "tool_type")
        config, _ = _param(patch, path, "config", "tool_config")
        new_id, _ = _param(patch, path, "tool_node_id", "tool_id")
        if isinstance(tool, dict):
            entry = dict(tool)
        elif isinstance(tool, str):
            entry = {"type": tool}
        else:
            raise PatchError("bad_patch", "add_tool needs a `tool` (type or mapping)", tp)
        if isinstance(config, dict):
            entry.update(config)
        if new_id is not None:
            entry["id"] = new_id
        raw = {"id": node.id, "type": node.type, "tools": [entry]}
        compiler = Compiler(self.registry, self.smap, {})
        for node_id in self.ids() - {node.id}:
            compiler.col.ids[node_id] = "based_on"
        step = compiler.reader.read_step(raw, path, 0, None)
        if step is None:  # pragma: no cover - the node exists and is valid
            return
        step.raw = {"tools": [entry]}
        before = len(compiler.col.problems)
        compiler.reader.read_attachments(step)
        for p in compiler.col.problems[before:]:
            self.problems.append(self.smap.problem(p.code, p.message, tp))
        for att in step.attachments:
            decl = att.decl
            tool_node = Node(id=decl.id, type=decl.type, config=decl.config, label=decl.label)
            self.insert_after(node.id, [tool_node])
            self.origin.nodes[decl.id] = tp
            self.add_edge(
                Edge(source=decl.id, target=node.id, kind=EdgeKind.TOOL, target_port="tools"), tp
            )

    def do_remove_tool(self, patch: dict[str, Any], path: str) -> None:
        tool_id, ip = _param(patch, path, "tool_node_id", "tool_id")
        tool_type, tp = _param(patch, path, "tool_type", "tool")
        owner: Node | None = None
        if any(k in patch for k in STEP_KEYS):
            owner, _ = self.step_of(patch, path)
        tools = [
            e
            for e in self.edges
            if e.kind == EdgeKind.TOOL and (owner is None or e.target == owner.id)
        ]
        if tool_id is not None:
            doomed = {e.source for e in tools if e.source == tool_id}
            where = ip
        elif isinstance(tool_type, str):
            canonical = ti.resolve_tool_type(self.registry, tool_type) or tool_type
            types = {n.id: n.type for n in self.nodes}
            doomed = {e.source for e in tools if types.get(e.source) == canonical}
            where = tp
        else:
            raise PatchError("bad_patch", "remove_tool needs `tool_node_id` or `tool_type`", path)
        if not doomed:
            raise PatchError(
                "dangling_reference",
                "no such tool attached" + (f" to {owner.id!r}" if owner else ""),
                where,
            )
        self.remove_nodes(doomed)

    def do_update_trigger(self, patch: dict[str, Any], path: str) -> None:
        triggers = [n for n in self.nodes if (t := self.node_type(n)) is not None and t.is_trigger]
        trig_id, idp = _param(patch, path, "trigger_id")
        if trig_id is not None:
            old = self.find(trig_id, idp)
        elif len(triggers) == 1:
            old = triggers[0]
        else:
            raise PatchError(
                "bad_patch",
                f"the workflow has {len(triggers)} triggers: name one with `trigger_id`",
                path,
            )
        spec, sp = _param(patch, path, "trigger", "trigger_type", "type")
        config, _ = _param(patch, path, "config")
        type_name = spec.get("type") if isinstance(spec, dict) else spec
        if isinstance(spec, dict) and isinstance(spec.get("config"), dict):
            config = spec["config"]
        new_type = (
            old.type if type_name is None else ti.resolve_trigger_type(self.registry, type_name)
        )
        if new_type is None:
            raise PatchError("unknown_type", f"unknown trigger type {type_name!r}", sp)
        if new_type != old.type:
            new_config = dict(config) if isinstance(config, dict) else {}
        else:
            new_config = {**old.config, **(config if isinstance(config, dict) else {})}
        new_id = old.id
        if new_type != old.type and old.id == old.type and new_type not in self.ids():
            new_id = new_type
        new = Node(
            id=new_id, type=new_type, config=new_config, label=old.label, position=old.position
        )
        self.nodes = [new if n.id == old.id else n for n in self.nodes]
        self.edges = [
            e.model_copy(update={"source": new_id}) if e.source == old.id else e for e in self.edges
        ]
        self.origin.nodes[new_id] = sp

    def do_update_model(self, patch: dict[str, Any], path: str) -> None:
        model, mp = _param(patch, path, "model", "config")
        if isinstance(model, str):
            model = {"capability": model}
        if not isinstance(model, dict):
            raise PatchError("bad_patch", "update_model needs a `model` mapping", mp)
        if not any(k in patch for k in STEP_KEYS):
            self.settings["model"] = model
            return
        node, _ = self.step_of(patch, path)
        nt = self.node_type(node)
        if nt is None or EdgeKind.LLM not in nt.attachments:
            raise PatchError("bad_patch", f"step {node.id!r} ({node.type}) takes no model", path)
        current = [e.source for e in self.edges if e.target == node.id and e.kind == EdgeKind.LLM]
        if current:
            self.replace(self.find(current[0], mp), config=dict(model))
            return
        if ti.MODEL_TYPE not in self.registry:
            raise PatchError("unknown_type", f"node type {ti.MODEL_TYPE!r} is not registered", mp)
        new_id, n = f"{node.id}_model", 1
        while new_id in self.ids():
            n += 1
            new_id = f"{node.id}_model_{n}"
        self.insert_after(node.id, [Node(id=new_id, type=ti.MODEL_TYPE, config=dict(model))])
        self.origin.nodes[new_id] = mp
        self.add_edge(
            Edge(source=new_id, target=node.id, kind=EdgeKind.LLM, target_port="model"), mp
        )
