"""Rule-based routing: ``switch`` (first matching rule wins) and ``assertion`` (pass / fail)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nodes.rules import Condition, SwitchRule, ctx_resolver, evaluate, render_values, rule_matches
from workspace.domain import DataType
from workspace.errors import NodeError
from workspace.sdk import NodeContext, NodeResult, NodeType, Port


class SwitchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[SwitchRule] = Field(
        default_factory=list,
        description="Ordered rules; the first one that matches emits its `route`.",
    )
    default: str | None = Field(
        default=None,
        description="Route emitted when no rule matches. Without it, no match fails the node "
        "with code `no_route`.",
    )
    case_insensitive: bool = Field(
        default=False, description="Compare strings ignoring case (rules may override)."
    )


class Switch(NodeType):
    """Route on ordered rules: the first rule that matches emits its route, else `default`.

    Output: `{"route": <route value>, "matched_rule": <index or null>}`.
    """

    name = "switch"
    category = "logic"
    Config = SwitchConfig
    routes = True
    raw_fields = frozenset({"rules"})
    outputs = (Port(name="output", type=DataType.OBJECT, description="{route, matched_rule}"),)

    def route_values(self, config: dict[str, Any]) -> set[str] | None:
        values: set[str] = set()
        rules = config.get("rules")
        if isinstance(rules, list):
            for rule in rules:
                if isinstance(rule, dict) and isinstance(rule.get("route"), str):
                    values.add(rule["route"])
        if isinstance(config.get("default"), str):
            values.add(config["default"])
        return values

    def execute(self, ctx: NodeContext, config: SwitchConfig, input: Any) -> NodeResult:
        resolve = ctx_resolver(ctx)
        values = render_values(ctx, config.rules)
        for i, (rule, value) in enumerate(zip(config.rules, values, strict=True)):
            ok, _ = rule_matches(rule, value, resolve, case_insensitive=config.case_insensitive)
            if ok:
                return NodeResult(output={"route": rule.route, "matched_rule": i}, route=rule.route)
        if config.default is None:
            raise NodeError(
                "no rule matched and the switch has no default route",
                code="no_route",
                retryable=False,
                node_id=ctx.node_id,
            )
        return NodeResult(
            output={"route": config.default, "matched_rule": None}, route=config.default
        )


class AssertionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Condition] = Field(
        default_factory=list, description="Conditions to check (same shape as switch rules)."
    )
    mode: Literal["all", "any"] = Field(
        default="all", description="`all`: every rule must hold; `any`: at least one."
    )
    case_insensitive: bool = Field(default=False, description="Compare strings ignoring case.")
    raise_on_fail: bool = Field(
        default=False,
        description="Fail the node (code `assertion_failed`) instead of routing to `fail`.",
    )


class Assertion(NodeType):
    """Check conditions and route `pass` or `fail`.

    Output: `{"passed": bool, "failed": [{index, field, operator, value, actual}]}`.
    """

    name = "assertion"
    category = "logic"
    Config = AssertionConfig
    routes = True
    static_routes = ("pass", "fail")
    raw_fields = frozenset({"rules"})
    outputs = (Port(name="output", type=DataType.OBJECT, description="{passed, failed}"),)

    def execute(self, ctx: NodeContext, config: AssertionConfig, input: Any) -> NodeResult:
        values = render_values(ctx, config.rules)
        passed, failed = evaluate(
            config.rules,
            values,
            ctx_resolver(ctx),
            case_insensitive=config.case_insensitive,
            mode=config.mode,
        )
        if not passed and config.raise_on_fail:
            summary = "; ".join(
                f"rule {f['index']}: {f['field']} {f['operator']} {f['value']!r} "
                f"(actual {f['actual']!r})"
                for f in failed
            )
            raise NodeError(
                f"assertion failed: {summary}",
                code="assertion_failed",
                retryable=False,
                node_id=ctx.node_id,
                failed=failed,
            )
        return NodeResult(
            output={"passed": passed, "failed": failed}, route="pass" if passed else "fail"
        )
