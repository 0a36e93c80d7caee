"""Rule models and their evaluation, shared by ``switch``, ``assertion`` and ``filter``.

A rule reads the value at ``field`` (a dotted path, not a template), compares it with ``value``
(rendered as a template by the node, so ``value: "{{ limits.max }}"`` works) using ``operator``.

Missing paths: a rule whose ``field`` does not resolve does NOT match, except ``not_exists`` and
``is_empty`` (which match) — ``exists`` and ``is_not_empty`` simply do not match. So
``not_equals`` / ``not_in`` / ``not_contains`` on a missing field are false: "absent" is not
evidence of "different". Use ``not_exists`` to route on absence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nodes.operators import MISSING_OK, OPERATOR_ALIASES, OPERATORS
from nodes.paths import MISSING, strip_braces
from workspace.sdk import NodeContext

OperatorName = Literal[
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "matches",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "in",
    "not_in",
    "is_empty",
    "is_not_empty",
    "is_true",
    "is_false",
    "exists",
    "not_exists",
    "length_eq",
    "length_gt",
    "length_lt",
]

#: resolves a path to its value, or MISSING
Resolver = Callable[[str], Any]


class Condition(BaseModel):
    """One comparison: the value at ``field`` ``operator`` ``value``."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(
        min_length=1,
        description="Dotted path to the value to test, e.g. `trigger.payload.type`, "
        "`fetch.status_code`, `node_outputs.fetch.items[0].id`. A path, not a template.",
    )
    operator: OperatorName = Field(
        default="equals",
        description="Comparison operator. Aliases: ==, !=, >, >=, <, <=, regex, eq, ne.",
    )
    value: Any = Field(
        default=None,
        description="Value to compare with (rendered as a template). `between` takes "
        "[low, high]; `in`/`not_in` a list or string; unary operators ignore it.",
    )
    case_sensitive: bool | None = Field(
        default=None,
        description="Override the node's `case_insensitive` setting for this rule.",
    )

    @field_validator("operator", mode="before")
    @classmethod
    def _alias(cls, v: Any) -> Any:
        if isinstance(v, str):
            key = v.strip().lower()
            return OPERATOR_ALIASES.get(key, key)
        return v


class SwitchRule(Condition):
    """A condition plus the route value emitted when it is the first one that matches."""

    route: str = Field(min_length=1, description="Route value emitted when this rule matches.")


def ctx_resolver(ctx: NodeContext) -> Resolver:
    """Resolve paths against the node scope through the engine (``ctx.has_path``/``lookup``)."""

    def resolve(path: str) -> Any:
        path = strip_braces(path)
        if not ctx.has_path(path):
            return MISSING
        return ctx.lookup(path)

    return resolve


def render_values(ctx: NodeContext, rules: Sequence[Condition], field: str = "rules") -> list[Any]:
    """Render each rule's ``value`` (rules are a raw field, so the engine left them alone)."""
    return [ctx.render(r.value, field=f"{field}[{i}].value") for i, r in enumerate(rules)]


def rule_matches(
    rule: Condition, value: Any, resolve: Resolver, *, case_insensitive: bool
) -> tuple[bool, Any]:
    """``(matched, actual)`` for ``rule`` with its rendered ``value``."""
    ci = case_insensitive if rule.case_sensitive is None else not rule.case_sensitive
    actual = resolve(rule.field)
    if actual is MISSING:
        if rule.operator in MISSING_OK:
            return OPERATORS[rule.operator](None, value, ci), None
        return False, None
    return OPERATORS[rule.operator](actual, value, ci), actual


def evaluate(
    rules: Sequence[Condition],
    values: Sequence[Any],
    resolve: Resolver,
    *,
    case_insensitive: bool,
    mode: Literal["all", "any"],
) -> tuple[bool, list[dict[str, Any]]]:
    """``(passed, failed)`` where ``failed`` describes every rule that did not match.

    No rules → passes. All rules are evaluated (no short-circuit) so ``failed`` is complete.
    """
    failed: list[dict[str, Any]] = []
    for i, (rule, value) in enumerate(zip(rules, values, strict=True)):
        ok, actual = rule_matches(rule, value, resolve, case_insensitive=case_insensitive)
        if not ok:
            failed.append(
                {
                    "index": i,
                    "field": rule.field,
                    "operator": rule.operator,
                    "value": value,
                    "actual": actual,
                }
            )
    if not rules:
        return True, failed
    passed = not failed if mode == "all" else len(failed) < len(rules)
    return passed, failed
