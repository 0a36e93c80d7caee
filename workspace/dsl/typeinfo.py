"""What the DSL needs to know about node types, derived from the registry.

Everything here is a pure function of a :class:`~workspace.sdk.NodeRegistry` and node type
class attributes (``is_trigger``, ``routes``, ``static_routes``, ``attachments``, ports,
``Config``), so the DSL works unchanged for third-party node types.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, AliasPath, BaseModel

from workspace.domain.graph import EdgeKind
from workspace.sdk import NodeRegistry, NodeType

#: Tool names that differ from step type names (``code`` as a step is the code node).
TOOL_ALIASES = {"code": "code_execute", "http": "http_request"}
#: Trigger shorthands besides ``<kind>`` → ``trigger_<kind>``.
TRIGGER_ALIASES = {"none": "trigger_workflow", "workflow": "trigger_workflow"}
#: The route value of the implicit chain edge leaving these node types.
CHAIN_ROUTES = {"human": "approved", "human_confirmation": "approved", "assertion": "pass"}
MODEL_TYPE = "ai_model"
MEMORY_TYPE = "memory"
ATTACHMENT_TARGET_PORTS = {EdgeKind.LLM: "model", EdgeKind.TOOL: "tools", EdgeKind.MEMORY: "memory"}
#: Default (source_port, target_port) of each edge kind.
DEFAULT_PORTS: dict[EdgeKind, tuple[str, str]] = {
    EdgeKind.DATA: ("output", "input"),
    EdgeKind.ROUTE: ("output", "input"),
    EdgeKind.ERROR: ("error", "input"),
    EdgeKind.LOOP_BODY: ("body", "input"),
    EdgeKind.LOOP_RETURN: ("output", "return"),
    EdgeKind.LLM: ("output", "model"),
    EdgeKind.TOOL: ("output", "tools"),
    EdgeKind.MEMORY: ("output", "memory"),
}
LOOP_DONE_PORT = "done"


def resolve_type(registry: NodeRegistry, name: object) -> str | None:
    """Canonical name of a step type (aliases applied), or None if unknown."""
    if not isinstance(name, str) or name not in registry:
        return None
    return registry.canonical_name(name)


def resolve_trigger_type(registry: NodeRegistry, name: object) -> str | None:
    """``chat`` / ``trigger_chat`` / ``none`` → the canonical trigger type, or None."""
    if not isinstance(name, str):
        return None
    name = TRIGGER_ALIASES.get(name, name)
    for candidate in (name, f"trigger_{name}"):
        canonical = resolve_type(registry, candidate)
        if canonical is not None and registry.get(canonical).is_trigger:
            return canonical
    return None


def resolve_tool_type(registry: NodeRegistry, name: object) -> str | None:
    if not isinstance(name, str):
        return None
    return resolve_type(registry, TOOL_ALIASES.get(name, name))


def is_loop(node_type: NodeType) -> bool:
    return node_type.name == "loop" or any(p.name == "body" for p in node_type.outputs)


def chain_route(node_type: NodeType) -> str | None:
    """Route value of the implicit chain edge leaving this type (human → ``approved``)."""
    if node_type.name in CHAIN_ROUTES:
        return CHAIN_ROUTES[node_type.name]
    static = node_type.static_routes or ()
    for value in ("approved", "pass"):
        if value in static:
            return value
    return None


def claiming(node_type: NodeType) -> bool:
    """Whether the type's route values come from its config (switch, router, categorizer):
    route values that name steps claim them."""
    return node_type.routes and node_type.static_routes is None


def declared_routes(node_type: NodeType, config: dict[str, Any]) -> list[str]:
    """Route values a routing node may emit, in config order where we can tell."""
    ordered: list[str] = []
    rules = config.get("rules")
    if isinstance(rules, list):
        ordered += [
            r["route"] for r in rules if isinstance(r, dict) and isinstance(r.get("route"), str)
        ]
    if isinstance(config.get("default"), str):
        ordered.append(config["default"])
    try:
        values = node_type.route_values(config)
    except Exception:  # a third-party route_values must not crash validation
        values = None
    if values:
        ordered += sorted(v for v in values if isinstance(v, str) and v not in ordered)
    seen: set[str] = set()
    return [v for v in ordered if not (v in seen or seen.add(v))]  # type: ignore[func-returns-value]


def safe_route_values(node_type: NodeType, config: dict[str, Any]) -> set[str] | None:
    try:
        values = node_type.route_values(config)
    except Exception:
        return None
    return {v for v in values if isinstance(v, str)} if values is not None else None


def attachment_keys(node_type: NodeType) -> dict[str, EdgeKind]:
    """Structural step keys (``tools``/``model``/``memory``) of a type accepting attachments."""
    keys = {EdgeKind.TOOL: "tools", EdgeKind.LLM: "model", EdgeKind.MEMORY: "memory"}
    return {keys[k]: k for k in node_type.attachments if k in keys}


def config_keys(model: type[BaseModel]) -> set[str] | None:
    """Keys a Config accepts (field names and aliases); None when it accepts any key."""
    if model.model_config.get("extra") == "allow":
        return None
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        keys.add(name)
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str):
                keys.add(alias)
            elif isinstance(alias, AliasChoices):
                for choice in alias.choices:
                    if isinstance(choice, str):
                        keys.add(choice)
                    elif isinstance(choice, AliasPath) and choice.path:
                        keys.add(str(choice.path[0]))
            elif isinstance(alias, AliasPath) and alias.path:
                keys.add(str(alias.path[0]))
    return keys


def default_ports(kind: EdgeKind, source_type: NodeType | None) -> tuple[str, str]:
    src, dst = DEFAULT_PORTS[kind]
    if kind == EdgeKind.DATA and source_type is not None and is_loop(source_type):
        src = LOOP_DONE_PORT
    return src, dst
