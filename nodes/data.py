"""Data shaping nodes: ``transform``, ``merge`` and ``filter``."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nodes.paths import MISSING, lookup_in, parse_path, strip_braces
from nodes.rules import Condition, Resolver, ctx_resolver, evaluate, render_values
from workspace.domain import DataType
from workspace.errors import NodeError
from workspace.sdk import NodeContext, NodeType, Port


class TransformConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: Any = Field(
        description="Jinja2 template (or any JSON value with templates inside). A field that is "
        "exactly one `{{ expression }}` keeps its type; mixed text renders to a string."
    )


class Transform(NodeType):
    """Compute a value from a template. Output: `{"output": value}`."""

    name = "transform"
    category = "logic"
    Config = TransformConfig

    def execute(self, ctx: NodeContext, config: TransformConfig, input: Any) -> dict[str, Any]:
        return {"output": config.template}


# --------------------------------------------------------------------------------------- merge

Strategy = Literal["dict", "list", "concat", "first", "last", "deep"]


class MergeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: Strategy = Field(
        default="dict",
        description="`dict`: shallow-merge dicts, later wins; `deep`: recursive dict merge "
        "(nested dicts merged, other values replaced); `list`: one element per value; "
        "`concat`: concatenate lists (non-lists appended); `first`/`last`: first/last value "
        "that is not null.",
    )
    items: list[Any] | None = Field(
        default=None,
        description="Explicit values to combine (templates). Default: the node's input — a "
        "dict keyed by source node id when several edges arrive (combined in that order).",
    )


def _values(config: MergeConfig, input: Any) -> list[Any]:
    if config.items is not None:
        return list(config.items)
    if isinstance(input, Mapping):
        return list(input.values())
    if isinstance(input, list | tuple):
        return list(input)
    return [] if input is None else [input]


def deep_merge(base: Any, extra: Any) -> Any:
    """Recursively merge ``extra`` into a copy of ``base`` (dicts merge, everything else wins)."""
    if isinstance(base, Mapping) and isinstance(extra, Mapping):
        out = dict(base)
        for key, value in extra.items():
            out[key] = deep_merge(out[key], value) if key in out else copy.deepcopy(value)
        return out
    return copy.deepcopy(extra)


def combine(strategy: Strategy, values: list[Any]) -> Any:
    if strategy in ("dict", "deep"):
        out: dict[str, Any] = {}
        for i, value in enumerate(values):
            if value is None:
                continue
            if not isinstance(value, Mapping):
                raise NodeError(
                    f"merge strategy {strategy!r} needs objects; value {i} is "
                    f"{type(value).__name__}",
                    code="bad_merge_input",
                    retryable=False,
                )
            out = deep_merge(out, value) if strategy == "deep" else {**out, **value}
        return out
    if strategy == "list":
        return list(values)
    if strategy == "concat":
        flat: list[Any] = []
        for value in values:
            if isinstance(value, list | tuple):
                flat.extend(value)
            elif value is not None:
                flat.append(value)
        return flat
    present = [v for v in values if v is not None]
    if not present:
        return None
    return present[0] if strategy == "first" else present[-1]


class Merge(NodeType):
    """Combine several values (usually the outputs of branches joining here).

    Output: `{"output": combined}`. How many branches it waits for is the node's `join`.
    """

    name = "merge"
    category = "logic"
    Config = MergeConfig

    def execute(self, ctx: NodeContext, config: MergeConfig, input: Any) -> dict[str, Any]:
        return {"output": combine(config.strategy, _values(config, input))}


# -------------------------------------------------------------------------------------- filter


class FilterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: Any = Field(description="The list to filter (usually `{{ some_node.items }}`).")
    rules: list[Condition] = Field(
        default_factory=list,
        description="Conditions per element. Paths start with `item` (the element, e.g. "
        "`item.status`) or `index`; other roots (`trigger.x`, node ids) read the node scope.",
    )
    mode: Literal["all", "any"] = Field(
        default="all", description="Keep an element when `all` rules hold, or `any`."
    )
    case_insensitive: bool = Field(default=False, description="Compare strings ignoring case.")


def item_resolver(ctx: NodeContext, element: Any, index: int, fallback: Resolver) -> Resolver:
    def resolve(path: str) -> Any:
        parts = parse_path(strip_braces(path))
        root = parts[0]
        if root == "item":
            return lookup_in(element, parts[1:])
        if root == "index":
            return index if len(parts) == 1 else MISSING
        if not isinstance(root, str) or not ctx.has_path(root):
            raise NodeError(
                f"filter rule path {path!r}: unknown root {root!r}; paths into the element "
                "start with `item.` (e.g. `item.status`)",
                code="bad_path",
                retryable=False,
            )
        return fallback(path)

    return resolve


class Filter(NodeType):
    """Keep the elements of a list that satisfy the rules.

    Output: `{"output": kept, "rejected": [...], "count": len(kept)}`.
    """

    name = "filter"
    category = "logic"
    Config = FilterConfig
    raw_fields = frozenset({"rules"})
    outputs = (
        Port(name="output", type=DataType.ARRAY, description="kept elements"),
        Port(name="rejected", type=DataType.ARRAY, description="elements that failed"),
        Port(name="count", type=DataType.NUMBER, description="number kept"),
    )

    def execute(self, ctx: NodeContext, config: FilterConfig, input: Any) -> dict[str, Any]:
        items = config.items
        if not isinstance(items, list | tuple):
            raise NodeError(
                f"filter `items` must be a list, got {type(items).__name__}",
                code="not_a_list",
                retryable=False,
                field="items",
            )
        values = render_values(ctx, config.rules)
        scope_resolver = ctx_resolver(ctx)
        kept: list[Any] = []
        rejected: list[Any] = []
        for i, element in enumerate(items):
            ok, _ = evaluate(
                config.rules,
                values,
                item_resolver(ctx, element, i, scope_resolver),
                case_insensitive=config.case_insensitive,
                mode=config.mode,
            )
            (kept if ok else rejected).append(element)
        return {"output": kept, "rejected": rejected, "count": len(kept)}
