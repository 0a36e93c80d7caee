"""Trigger declarations: ``trigger:`` / ``triggers:`` / ``trigger_config:`` → trigger nodes."""

from __future__ import annotations

from typing import Any

from workspace.dsl import typeinfo as ti
from workspace.dsl.source import join_index, join_key
from workspace.dsl.steps import Collector, NodeDecl, split_config


def read_triggers(data: dict[str, Any], col: Collector, has_trigger_steps: bool) -> list[NodeDecl]:
    """Trigger nodes from `trigger:` / `triggers:` (default: one `trigger_manual`)."""
    entries: list[tuple[Any, str]] = []
    if data.get("trigger") is not None and data.get("triggers") is not None:
        col.problem(
            "invalid_value",
            "use either `trigger` or `triggers`, not both",
            "triggers",
            key=True,
        )
    if isinstance(data.get("triggers"), list):
        entries = [(t, join_index("triggers", i)) for i, t in enumerate(data["triggers"])]
        if data.get("trigger_config") is not None:
            col.problem(
                "invalid_value",
                "`trigger_config` applies to a single `trigger`",
                "trigger_config",
                key=True,
            )
    elif data.get("trigger") is not None:
        entries = [(data["trigger"], "trigger")]
    elif "triggers" not in data and not has_trigger_steps:
        entries = [("manual", "")]
    out: list[NodeDecl] = []
    for entry, path in entries:
        decl = read_trigger(entry, path, col)
        if decl is not None:
            out.append(decl)
    if len(entries) == 1 and out and isinstance(data.get("trigger_config"), dict):
        for key, value in data["trigger_config"].items():
            out[0].config.setdefault(key, value)
            out[0].config_paths.setdefault(key, join_key("trigger_config", key))
    return out


def read_trigger(entry: Any, path: str, col: Collector) -> NodeDecl | None:
    """`chat`, `trigger_chat`, `none` or `{type, id?, label?, config?, ...config}`."""
    explicit_id: Any = None
    label: Any = None
    config: dict[str, Any] = {}
    paths: dict[str, str] = {}
    type_path = path
    if isinstance(entry, str):
        type_name: Any = entry
    elif isinstance(entry, dict):
        type_name, explicit_id, label = entry.get("type"), entry.get("id"), entry.get("label")
        type_path = join_key(path, "type")
        config, paths = split_config(entry, path, set(), col)
        if type_name is None:
            col.problem("missing_key", "a trigger needs a `type`", path)
            return None
    else:
        return None  # shape error, reported by the document model
    canonical = ti.resolve_trigger_type(col.registry, type_name)
    if canonical is None:
        col.unknown_type(type_name, type_path, "trigger type")
        return None
    if explicit_id is not None:
        if not isinstance(explicit_id, str) or not col.claim_id(explicit_id, path):
            return None
        node_id = explicit_id
    else:
        node_id = col.fresh_id(canonical)
        col.ids[node_id] = path
    return NodeDecl(
        id=node_id,
        type=canonical,
        path=path,
        node_type=col.registry.get(canonical),
        config=config,
        config_paths=paths,
        label=label if isinstance(label, str) else None,
    )
