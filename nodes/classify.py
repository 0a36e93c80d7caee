"""LLM routing: ``categorizer`` (the model picks one of N categories → route) and ``router``
(rule mode like ``switch``, or LLM mode over described routes) (SPEC §3).

Parsing is strict on purpose: an answer that names no category — or more than one — is never
taken as the first category. It fails the node (``unparseable_category``, retryable, so the
node's retry policy may ask again) or takes the configured ``on_unparseable: route:<name>``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nodes.agent import default_text
from nodes.llm import ask, message_text
from nodes.rules import SwitchRule, ctx_resolver, render_values, rule_matches
from workspace.domain import DataType, EdgeKind
from workspace.errors import NodeError
from workspace.sdk import NodeContext, NodeResult, NodeType, Port


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Category (and route) name.")
    description: str | None = Field(default=None, description="What belongs here.")


def _categories(v: Any) -> Any:
    if isinstance(v, list):
        return [{"name": c} if isinstance(c, str) else c for c in v]
    return v


def _on_unparseable(v: str) -> str:
    if v != "fail" and not (v.startswith("route:") and len(v) > 6):
        raise ValueError("on_unparseable must be `fail` or `route:<name>`")
    return v


class CategorizerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: list[Category] = Field(
        min_length=2, description="Names (or {name, description}) to choose from."
    )
    prompt: Any = Field(default=None, description="Text to classify (template; default: input).")
    instructions: str | None = Field(default=None, description="Extra guidance for the model.")
    on_unparseable: str = Field(
        default="fail",
        description="When the answer names no single category: `fail` or `route:<name>`.",
    )

    _norm_categories = field_validator("categories", mode="before")(_categories)
    _check = field_validator("on_unparseable")(_on_unparseable)

    @model_validator(mode="after")
    def _unique(self) -> CategorizerConfig:
        names = [c.name.lower() for c in self.categories]
        if len(set(names)) != len(names):
            raise ValueError("category names must be unique (ignoring case)")
        return self


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9_\- ]+", " ", text.lower()).strip()


def parse_choice(answer: str, names: list[str]) -> str | None:
    """The one name ``answer`` gives: the whole answer (quotes, `Category:` and punctuation
    ignored), else the single name it mentions as a word; None if none or several."""
    clean = _normalise(answer)
    clean = re.sub(r"^(category|route|answer|label)\s*", "", clean).strip()
    by_norm = {_normalise(n): n for n in names}
    if clean in by_norm:
        return by_norm[clean]
    found = {
        name
        for norm, name in by_norm.items()
        if re.search(rf"(?<![\w-]){re.escape(norm)}(?![\w-])", clean)
    }
    return found.pop() if len(found) == 1 else None


def choose(
    ctx: NodeContext, options: list[Category], text: str, instructions: str | None, what: str
) -> tuple[str | None, str]:
    """Ask the model to pick one option; (the option or None, the raw answer)."""
    listing = "\n".join(
        f"- {o.name}" + (f": {o.description}" if o.description else "") for o in options
    )
    system = (
        f"Classify the text into exactly one {what}. Answer with the {what} name only, "
        f"nothing else.\n{what.capitalize()}s:\n{listing}"
    )
    if instructions:
        system += f"\n{instructions}"
    model = ctx.chat_model()
    reply = ask(ctx, model, [SystemMessage(system), HumanMessage(text)], stream=False)
    answer = message_text(reply)
    return parse_choice(answer, [o.name for o in options]), answer


def _unparseable(ctx: NodeContext, policy: str, answer: str, names: list[str]) -> str:
    if policy.startswith("route:"):
        return policy[len("route:") :]
    raise NodeError(
        f"the model's answer {answer[:200]!r} names none (or several) of {names}",
        code="unparseable_category",
        node_id=ctx.node_id,
        answer=answer[:500],
    )


class Categorizer(NodeType):
    """An LLM picks one category; the category is the route. Output: `{"category", "raw"}`."""

    name = "categorizer"
    category = "ai"
    Config = CategorizerConfig
    routes = True
    attachments = frozenset({EdgeKind.LLM})
    outputs = (Port(name="output", type=DataType.OBJECT, description="{category, raw}"),)

    def route_values(self, config: dict[str, Any]) -> set[str] | None:
        values = {
            c if isinstance(c, str) else c.get("name")
            for c in config.get("categories") or []
            if isinstance(c, str | dict)
        }
        policy = config.get("on_unparseable")
        if isinstance(policy, str) and policy.startswith("route:"):
            values.add(policy[len("route:") :])
        return {v for v in values if isinstance(v, str)}

    def execute(self, ctx: NodeContext, config: CategorizerConfig, input: Any) -> NodeResult:
        text = config.prompt if config.prompt is not None else default_text(ctx, input)
        names = [c.name for c in config.categories]
        picked, answer = choose(ctx, config.categories, str(text), config.instructions, "category")
        if picked is None:
            route = _unparseable(ctx, config.on_unparseable, answer, names)
            return NodeResult(output={"category": None, "raw": answer}, route=route)
        return NodeResult(output={"category": picked, "raw": answer}, route=picked)


class RouterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["rules", "llm"] = Field(default="rules", description="`rules` or `llm`.")
    rules: list[SwitchRule] = Field(
        default_factory=list, description="Rule mode: ordered rules, as in `switch`."
    )
    routes: list[Category] = Field(
        default_factory=list, description="LLM mode: routes (name + description) to pick from."
    )
    prompt: Any = Field(default=None, description="LLM mode: the text to route (template).")
    instructions: str | None = Field(default=None, description="LLM mode: extra guidance.")
    default: str | None = Field(
        default=None, description="Route when no rule matches / the answer names no route."
    )
    case_insensitive: bool = Field(default=False, description="Rule mode: ignore case.")

    _norm_routes = field_validator("routes", mode="before")(_categories)

    @model_validator(mode="after")
    def _mode(self) -> RouterConfig:
        if self.mode == "rules" and not self.rules:
            raise ValueError("rule mode needs `rules`")
        if self.mode == "llm" and len(self.routes) < 2:
            raise ValueError("LLM mode needs at least two `routes`")
        return self


class Router(NodeType):
    """Route by rules (like `switch`) or let an LLM pick one of the described routes.
    Output: `{"route", "raw"?}`."""

    name = "router"
    category = "ai"
    Config = RouterConfig
    routes = True
    raw_fields = frozenset({"rules"})
    attachments = frozenset({EdgeKind.LLM})
    outputs = (Port(name="output", type=DataType.OBJECT, description="{route}"),)

    def route_values(self, config: dict[str, Any]) -> set[str] | None:
        values: set[str] = set()
        for rule in config.get("rules") or []:
            if isinstance(rule, dict) and isinstance(rule.get("route"), str):
                values.add(rule["route"])
        for route in config.get("routes") or []:
            name = route if isinstance(route, str) else (route or {}).get("name")
            if isinstance(name, str):
                values.add(name)
        if isinstance(config.get("default"), str):
            values.add(config["default"])
        return values

    def execute(self, ctx: NodeContext, config: RouterConfig, input: Any) -> NodeResult:
        if config.mode == "rules":
            resolve = ctx_resolver(ctx)
            values = render_values(ctx, config.rules)
            for rule, value in zip(config.rules, values, strict=True):
                ok, _ = rule_matches(rule, value, resolve, case_insensitive=config.case_insensitive)
                if ok:
                    return NodeResult(output={"route": rule.route}, route=rule.route)
            if config.default is None:
                raise NodeError(
                    "no rule matched and the router has no default route",
                    code="no_route",
                    node_id=ctx.node_id,
                    retryable=False,
                )
            return NodeResult(output={"route": config.default}, route=config.default)
        text = config.prompt if config.prompt is not None else default_text(ctx, input)
        picked, answer = choose(ctx, config.routes, str(text), config.instructions, "route")
        if picked is None:
            policy = f"route:{config.default}" if config.default else "fail"
            picked = _unparseable(ctx, policy, answer, [r.name for r in config.routes])
        return NodeResult(output={"route": picked, "raw": answer}, route=picked)
