"""Step declarations: DSL step mappings → node declarations (ids, types, config, attachments).

Used by the compiler for ``steps:`` (and loop bodies) and by fork patches for ``add_step``.
Problems are appended to the collector; nothing here raises for bad input.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from workspace.domain.graph import (
    NODE_ID_RE,
    RESERVED_NODE_IDS,
    EdgeKind,
    JoinSpec,
    Position,
    RetryPolicy,
)
from workspace.dsl import typeinfo as ti
from workspace.dsl.model import BODY_KEY, SHARED_STEP_KEYS
from workspace.dsl.source import SourceMap, join_index, join_key
from workspace.errors import Problem
from workspace.sdk import NodeRegistry, NodeType


@dataclass
class NodeDecl:
    """A node to create: where it was declared and the pieces of :class:`Node`."""

    id: str
    type: str
    path: str
    node_type: NodeType | None
    config: dict[str, Any] = field(default_factory=dict)
    config_paths: dict[str, str] = field(default_factory=dict)
    label: str | None = None
    retry: RetryPolicy | None = None
    timeout_s: float | None = None
    join: JoinSpec | None = None
    valid_id: bool = True


@dataclass
class Attachment:
    decl: NodeDecl
    kind: EdgeKind
    entry_path: str


@dataclass
class StepDecl:
    decl: NodeDecl
    raw: dict[str, Any]
    attachments: list[Attachment] = field(default_factory=list)
    body: list[StepDecl | tuple[str, str]] = field(default_factory=list)  # inline or (id, path)
    has_body: bool = False
    on_error: tuple[str, str] | None = None  # (target id, path)


class Collector:
    """Shared state while declaring nodes: registry, positions, problems, used ids."""

    def __init__(
        self, registry: NodeRegistry, smap: SourceMap, layout: dict[str, Position] | None = None
    ) -> None:
        self.registry = registry
        self.smap = smap
        self.problems: list[Problem] = []
        self.layout = layout or {}
        self.ids: dict[str, str] = {}  # declared id → path
        self.reserved: set[str] = set()

    def problem(
        self, code: str, message: str, path: str, *, key: bool = False, severity: str = "error"
    ) -> None:
        self.problems.append(self.smap.problem(code, message, path, key=key, severity=severity))

    def unknown_type(self, name: object, path: str, what: str = "step type") -> None:
        names = self.registry.names() + list(self.registry.aliases())
        close = difflib.get_close_matches(str(name), names, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        self.problem("unknown_type", f"unknown {what} {name!r}{hint}", path)

    def claim_id(self, node_id: str, path: str) -> bool:
        if node_id in self.ids:
            self.problem(
                "duplicate_id",
                f"duplicate id {node_id!r} (first declared at {self.ids[node_id] or 'top level'})",
                join_key(path, "id"),
            )
            return False
        self.ids[node_id] = path
        return True

    def fresh_id(self, base: str) -> str:
        base = re.sub(r"[^a-z0-9_]", "_", base.lower())
        if not base or not NODE_ID_RE.match(base):
            base = f"n_{base}"
        candidate, n = base, 1
        while candidate in self.ids or candidate in self.reserved:
            n += 1
            candidate = f"{base}_{n}"
        return candidate


def parse_join(value: Any) -> JoinSpec | None:
    try:
        if value in ("all", "any"):
            return JoinSpec(mode=value)
        if isinstance(value, int) and not isinstance(value, bool):
            return JoinSpec(mode="n", n=value)
        if isinstance(value, dict):
            return JoinSpec(mode=value.get("mode", "n"), n=value.get("n"))
    except (ValidationError, TypeError):
        return None
    return None


def parse_retry(value: Any) -> RetryPolicy | None:
    if isinstance(value, dict):
        try:
            return RetryPolicy.model_validate(value)
        except ValidationError:
            return None
    return None


def parse_timeout(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def split_config(
    raw: dict[str, Any],
    path: str,
    structural: set[str],
    col: Collector,
    keep: frozenset[str] = frozenset(),
) -> tuple[dict[str, Any], dict[str, str]]:
    """Step-level config keys plus a nested ``config:`` mapping; conflicts are reported.
    ``keep``: shared step keys that are config here (a loop's ``on_error: continue``)."""
    config: dict[str, Any] = {}
    paths: dict[str, str] = {}
    for key, value in raw.items():
        if (key in SHARED_STEP_KEYS and key not in keep) or key in structural:
            continue
        config[key] = value
        paths[key] = join_key(path, key)
    nested = raw.get("config")
    if isinstance(nested, dict):
        base = join_key(path, "config")
        for key, value in nested.items():
            if key in config:
                col.problem(
                    "duplicate_key",
                    f"config key {key!r} is set both in the step and in its `config:`",
                    join_key(base, key),
                    key=True,
                )
                continue
            config[key] = value
            paths[key] = join_key(base, key)
    return config, paths


def _config_on_error(nt: NodeType, value: Any, col: Collector) -> bool:
    """``on_error`` is an error handler (a step id) unless the type's Config has an
    ``on_error`` field and the value names no step (a loop's ``on_error: continue``)."""
    keys = ti.config_keys(nt.Config)
    if keys is None or "on_error" not in keys:
        return False
    return not (isinstance(value, str) and (value in col.ids or value in col.reserved))


class StepReader:
    """Reads step mappings into :class:`StepDecl` trees (first pass: ids and types only)."""

    def __init__(self, col: Collector) -> None:
        self.col = col

    def read_block(self, items: Any, path: str, default_prefix: str | None) -> list[StepDecl]:
        out: list[StepDecl] = []
        if not isinstance(items, list):
            return out
        for i, raw in enumerate(items):
            item_path = join_index(path, i)
            if not isinstance(raw, dict):
                if isinstance(raw, str) and default_prefix is None:
                    continue  # loop body reference, handled by the caller
                continue
            step = self.read_step(raw, item_path, i, default_prefix)
            if step is not None:
                out.append(step)
        return out

    def read_step(
        self, raw: dict[str, Any], path: str, index: int, default_prefix: str | None
    ) -> StepDecl | None:
        col = self.col
        type_name = raw.get("type")
        canonical = ti.resolve_type(col.registry, type_name)
        if type_name is None:
            col.problem("missing_key", "a step needs a `type`", path)
        elif canonical is None:
            col.unknown_type(type_name, join_key(path, "type"))
        nt = col.registry.get(canonical) if canonical else None
        raw_id = raw.get("id")
        valid_id = True
        if raw_id is None:
            prefix = f"{default_prefix}_body" if default_prefix else (canonical or "step")
            node_id = col.fresh_id(f"{prefix}_{index + 1}")
        elif not isinstance(raw_id, str) or not NODE_ID_RE.match(raw_id):
            col.problem(
                "invalid_id",
                f"invalid step id {raw_id!r}: ids match "
                "[a-z_][a-z0-9_]* (lowercase letters, digits, underscores)",
                join_key(path, "id"),
            )
            node_id = str(raw_id)
            valid_id = False
            col.ids.setdefault(node_id, path)
        elif raw_id in RESERVED_NODE_IDS or raw_id.startswith("__"):
            col.problem(
                "reserved_id",
                f"step id {raw_id!r} is reserved (expressions use that name); choose another id",
                join_key(path, "id"),
            )
            node_id = raw_id
            valid_id = False
            col.ids.setdefault(node_id, path)
        else:
            node_id = raw_id
            if not col.claim_id(node_id, path):
                return None
        if raw_id is None:
            col.ids[node_id] = path
        structural: set[str] = set()
        if nt is not None:
            structural |= set(ti.attachment_keys(nt))
            if ti.is_loop(nt) and BODY_KEY in raw:
                structural.add(BODY_KEY)
        on_error = raw.get("on_error")
        keep: frozenset[str] = frozenset()
        if on_error is not None and nt is not None and _config_on_error(nt, on_error, col):
            keep, on_error = frozenset({"on_error"}), None
        config, config_paths = split_config(raw, path, structural, col, keep)
        decl = NodeDecl(
            id=node_id,
            type=canonical or str(type_name),
            path=path,
            node_type=nt,
            config=config,
            config_paths=config_paths,
            label=raw["label"] if isinstance(raw.get("label"), str) else None,
            retry=parse_retry(raw.get("retry")),
            timeout_s=parse_timeout(raw.get("timeout_s")),
            join=parse_join(raw.get("join")),
            valid_id=valid_id,
        )
        step = StepDecl(decl=decl, raw=raw)
        if isinstance(on_error, str):
            step.on_error = (on_error, join_key(path, "on_error"))
        elif on_error is not None:
            col.problem("invalid_value", "`on_error` must be a step id", join_key(path, "on_error"))
        if BODY_KEY in structural:
            step.has_body = True
            body = raw.get(BODY_KEY)
            body_path = join_key(path, BODY_KEY)
            if isinstance(body, list):
                for j, item in enumerate(body):
                    item_path = join_index(body_path, j)
                    if isinstance(item, dict):
                        sub = self.read_step(item, item_path, j, node_id)
                        if sub is not None:
                            step.body.append(sub)
                    elif isinstance(item, str):
                        step.body.append((item, item_path))
                    else:
                        col.problem(
                            "invalid_value", "a body entry is a step or a step id", item_path
                        )
            elif body is not None:
                col.problem("invalid_value", "`body` must be a list of steps", body_path)
        return step

    # ---------------------------------------------------------------- attachments (2nd pass)

    def read_attachments(self, step: StepDecl) -> None:
        """Tools/model/memory entries → attachment node declarations (after all ids are known)."""
        nt = step.decl.node_type
        if nt is None:
            return
        for key, kind in ti.attachment_keys(nt).items():
            if key not in step.raw:
                continue
            value = step.raw[key]
            path = join_key(step.decl.path, key)
            if kind == EdgeKind.TOOL:
                if not isinstance(value, list):
                    self.col.problem("invalid_value", "`tools` must be a list", path)
                    continue
                for j, entry in enumerate(value):
                    self._attachment(step, kind, entry, join_index(path, j))
            else:
                self._attachment(step, kind, value, path)
        order = {EdgeKind.LLM: 0, EdgeKind.TOOL: 1, EdgeKind.MEMORY: 2}
        step.attachments.sort(key=lambda a: order[a.kind])

    def _attachment(self, step: StepDecl, kind: EdgeKind, entry: Any, path: str) -> None:
        col = self.col
        explicit_id: Any = None
        label: Any = None
        config: dict[str, Any] = {}
        paths: dict[str, str] = {}
        type_path = path
        if kind == EdgeKind.TOOL:
            if isinstance(entry, str):
                type_name: Any = entry
            elif isinstance(entry, dict):
                type_name = entry.get("type")
                type_path = join_key(path, "type")
                explicit_id, label = entry.get("id"), entry.get("label")
                config, paths = split_config(entry, path, set(), col)
                if type_name is None:
                    col.problem("missing_key", "a tool entry needs a `type`", path)
                    return
            else:
                col.problem("invalid_value", "a tool is a type name or a mapping", path)
                return
            canonical = ti.resolve_tool_type(col.registry, type_name)
            suffix = canonical or str(type_name)
        else:
            type_name = ti.MODEL_TYPE if kind == EdgeKind.LLM else ti.MEMORY_TYPE
            if entry is None or entry is False:
                return
            if isinstance(entry, dict):
                explicit_id, label = entry.get("id"), entry.get("label")
                config, paths = split_config(entry, path, set(), col)
            elif kind == EdgeKind.LLM and isinstance(entry, str):
                config, paths = {"capability": entry}, {"capability": path}
            elif not (kind == EdgeKind.MEMORY and entry is True):
                col.problem(
                    "invalid_value",
                    f"`{'model' if kind == EdgeKind.LLM else 'memory'}`"
                    " must be a mapping" + (" or true" if kind == EdgeKind.MEMORY else ""),
                    path,
                )
                return
            canonical = ti.resolve_type(col.registry, type_name)
            suffix = "model" if kind == EdgeKind.LLM else "memory"
        if canonical is None:
            col.unknown_type(
                type_name, type_path, "tool type" if kind == EdgeKind.TOOL else "attachment type"
            )
            return
        if explicit_id is not None:
            if (
                not isinstance(explicit_id, str)
                or not NODE_ID_RE.match(explicit_id)
                or explicit_id in RESERVED_NODE_IDS
            ):
                col.problem("invalid_id", f"invalid id {explicit_id!r}", join_key(path, "id"))
                return
            if not col.claim_id(explicit_id, path):
                return
            node_id = explicit_id
        else:
            node_id = col.fresh_id(f"{step.decl.id}_{suffix}")
            col.ids[node_id] = path
        decl = NodeDecl(
            id=node_id,
            type=canonical,
            path=path,
            node_type=col.registry.get(canonical),
            config=config,
            config_paths=paths,
            label=label if isinstance(label, str) else None,
        )
        step.attachments.append(Attachment(decl=decl, kind=kind, entry_path=path))


def walk(steps: list[StepDecl]) -> list[StepDecl]:
    """Every step declaration in node order (a step, then its inline body, depth first)."""
    out: list[StepDecl] = []
    for step in steps:
        out.append(step)
        out.extend(walk([b for b in step.body if isinstance(b, StepDecl)]))
    return out
