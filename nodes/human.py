"""The ``human`` node: pause the run for an approval / form answer (SPEC §4.5)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nodes.operators import as_number
from workspace.domain import DataType
from workspace.domain.run import TIMEOUT_ACTOR
from workspace.errors import NodeError
from workspace.sdk import NodeContext, NodeResult, NodeType, Port, RevisionRequest

Option = Literal["approve", "reject", "edit", "request_revision"]
_APPROVE = {"approve", "approved", "yes", "ok", "accept"}
_REJECT = {"reject", "rejected", "no", "deny", "denied"}
_REVISION = {"request_revision", "revision", "revise"}
_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


class FormField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Key of the answer in `data`.")
    type: Literal["text", "multiline", "number", "boolean", "choice", "file"] = Field(
        default="text", description="Input widget and validation."
    )
    label: str | None = Field(default=None, description="Label shown (default: the name).")
    required: bool = Field(default=False, description="An answer must include a value.")
    options: list[str] | None = Field(default=None, description="Choices for `choice` fields.")

    @model_validator(mode="after")
    def _choices(self) -> FormField:
        if self.type == "choice" and not self.options:
            raise ValueError(f"choice field {self.name!r} needs `options`")
        return self


class HumanConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Any = Field(default="Please review.", description="Prompt shown (template).")
    fields: list[FormField] = Field(default_factory=list, description="Form fields to fill in.")
    options: list[Option] = Field(
        default_factory=lambda: list[Option](["approve", "reject"]),
        min_length=1,
        description="Buttons offered: approve, reject, edit, request_revision.",
    )
    revision_target: str | None = Field(
        default=None,
        description="An earlier step on the path to this node: `request_revision` (with "
        "feedback) runs it again with `{{ revision.feedback }}` / `{{ revision.round }}`, and "
        "everything from there down to this node, which then asks again. Without it, "
        "`request_revision` takes the route `revision`.",
    )
    max_revisions: int = Field(
        default=3,
        ge=0,
        le=100,
        description="Revision rounds allowed; then `request_revision` is no longer offered.",
    )
    approve_to_start: bool = Field(
        default=False,
        description="The run asks this approval right after its trigger, before any other "
        "node runs (the message may use `trigger` and `run` only); reject ends the run "
        "`cancelled`; approve lets it run, and this node does not ask again when reached.",
    )
    on_timeout: str = Field(
        default="reject",
        description="`reject`, `approve` or `route:<name>` when the node's `timeout_s` (its "
        "answer deadline) passes without an answer: applied as the answer of "
        "`system:timeout` (the request's token is then used up).",
    )

    @field_validator("on_timeout")
    @classmethod
    def _on_timeout(cls, v: str) -> str:
        if v not in ("reject", "approve") and not (v.startswith("route:") and len(v) > 6):
            raise ValueError("on_timeout must be reject, approve or route:<name>")
        return v

    @model_validator(mode="after")
    def _revision(self) -> HumanConfig:
        if self.revision_target is not None and "request_revision" not in self.options:
            raise ValueError("revision_target needs `request_revision` in options")
        if self.revision_target is not None and self.approve_to_start:
            raise ValueError(
                "approve_to_start and revision_target exclude each other: a start approval "
                "is answered before any step ran, so there is nothing to revise"
            )
        return self


def _bad(message: str, **details: Any) -> NodeError:
    return NodeError(message, code="bad_answer", retryable=False, **details)


def coerce_field(field: FormField, value: Any) -> Any:
    """Validate and coerce one form answer; raises NodeError(code="bad_answer")."""
    if field.type == "number":
        number = as_number(value)
        if number is None:
            raise _bad(f"field {field.name!r} must be a number, got {value!r}", field=field.name)
        return number
    if field.type == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise _bad(f"field {field.name!r} must be a boolean, got {value!r}", field=field.name)
    if field.type == "choice":
        if value not in (field.options or []):
            raise _bad(
                f"field {field.name!r} must be one of {field.options}, got {value!r}",
                field=field.name,
            )
        return value
    if field.type in ("text", "multiline") and not isinstance(value, str):
        raise _bad(f"field {field.name!r} must be text, got {type(value).__name__}")
    return value


def validate_form(fields: list[FormField], data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for f in fields:
        value = data.get(f.name)
        if value is None or value == "":
            if f.required:
                raise _bad(f"field {f.name!r} is required", field=f.name)
            continue
        out[f.name] = coerce_field(f, value)
    return out


def normalise(answer: Any, config: HumanConfig) -> dict[str, Any]:
    """Any accepted answer shape → ``{"action", "data", "feedback", "answered_by"}``."""
    data: Any = {}
    feedback = None
    who = None
    if isinstance(answer, bool):
        action = "approve" if answer else "reject"
    elif isinstance(answer, str):
        action = answer.strip().lower()
    elif isinstance(answer, dict):
        who = answer.get("answered_by") or answer.get("user")
        feedback = answer.get("feedback") or answer.get("reason") or answer.get("comment")
        data = answer.get("data") or {}
        if "action" in answer:
            action = str(answer["action"]).strip().lower()
        elif isinstance(answer.get("approved"), bool):
            action = "approve" if answer["approved"] else "reject"
        else:  # a bare form submission
            action, data = "approve", {k: v for k, v in answer.items() if k != "answered_by"}
    else:
        raise _bad(f"unsupported answer of type {type(answer).__name__}")
    if not isinstance(data, dict):
        raise _bad("answer `data` must be an object")
    if action in _APPROVE:
        action = "approve"
    elif action in _REJECT:
        action = "reject"
    elif action in _REVISION:
        action = "request_revision"
    elif action != "edit":
        raise _bad(f"unknown action {action!r}")
    offered = set(config.options) | ({"approve"} if "edit" in config.options else set())
    if action not in offered:
        raise _bad(f"action {action!r} is not offered (options: {config.options})")
    if action == "request_revision" and config.revision_target and not _text(feedback):
        raise _bad("request_revision needs `feedback`: what should be revised")
    return {"action": action, "data": data, "feedback": feedback, "answered_by": who}


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def timed_out(raw: dict[str, Any], config: HumanConfig) -> dict[str, Any]:
    """The answer ``on_timeout`` gives (no form validation: nobody filled the form in)."""
    rule = config.on_timeout
    if rule == "approve":
        action, route = "approve", "approved"
    elif rule == "reject":
        action, route = "reject", "rejected"
    else:
        action, route = "timeout", rule.removeprefix("route:")
    return {
        "action": action,
        "data": {},
        "feedback": None,
        "answered_by": raw.get("answered_by") or TIMEOUT_ACTOR,
        "timed_out": True,
        "route": route,
    }


class Human(NodeType):
    """Pause for a human decision (approve / reject / edit / request revision, plus a form).

    Routes `approved`, `rejected`, `revision` (and `<name>` for `on_timeout: route:<name>`).
    Output: `{"approved", "action", "data", "feedback", "answered_by"}`; an answer given by
    the node's `timeout_s` passing adds `"timed_out": true` (`answered_by: system:timeout`).

    `approve_to_start: true` makes the node a start gate: the engine asks it right after the
    trigger, before any other node runs; a rejection ends the run `cancelled`.
    `request_revision` with a `revision_target` (feedback required) starts a revision round:
    the target and everything down to this node run again with `{{ revision.feedback }}` /
    `{{ revision.round }}`, then this node asks again (request: `revision_round`,
    `max_revisions`; once the rounds are used up, `request_revision` is not offered).
    """

    name = "human"
    aliases = ("human_confirmation",)
    category = "logic"
    Config = HumanConfig
    routes = True
    pauses = True
    static_routes = ("approved", "rejected", "revision")
    upstream_fields = ("revision_target",)
    outputs = (
        Port(name="output", type=DataType.OBJECT, description="{approved, action, data, ...}"),
    )

    def start_gate(self, config: dict[str, Any]) -> str | None:
        return "approved" if config.get("approve_to_start") is True else None

    def route_values(self, config: dict[str, Any]) -> set[str] | None:
        values = set(self.static_routes or ())
        on_timeout = config.get("on_timeout")
        if isinstance(on_timeout, str) and on_timeout.startswith("route:"):
            values.add(on_timeout[6:])
        return values

    @staticmethod
    def _ask(ctx: NodeContext, config: HumanConfig, request: dict[str, Any]) -> dict[str, Any]:
        """Ask until the answer is valid: an invalid one re-opens the request with the problem
        (and a new token) instead of failing the run and losing the question."""
        problem: str | None = None
        while True:
            asked = request if problem is None else {**request, "error": problem}
            try:
                raw = ctx.interrupt(asked)
                if isinstance(raw, dict) and raw.get("timed_out"):
                    return timed_out(raw, config)
                answer = normalise(raw, config)
                if answer["action"] in ("approve", "edit"):
                    answer["data"] = validate_form(config.fields, answer["data"])
                return answer
            except NodeError as exc:
                if exc.code != "bad_answer":
                    raise
                problem = exc.message

    def execute(self, ctx: NodeContext, config: HumanConfig, input: Any) -> NodeResult:
        revision = ctx.scope().get("revision") or {}
        rounds = int(revision.get("round") or 0)
        request = {
            "node_id": ctx.node_id,
            "message": config.message if isinstance(config.message, str) else str(config.message),
            "fields": [f.model_dump() for f in config.fields],
            "options": list(config.options),
            "approve_to_start": config.approve_to_start,
            "revision_target": config.revision_target,
            "on_timeout": config.on_timeout,
        }
        if config.revision_target:
            request.update(revision_round=rounds, max_revisions=config.max_revisions)
            if rounds >= config.max_revisions:
                # the rounds are used up: the request offers the other options only
                offered = [o for o in config.options if o != "request_revision"]
                if not offered:
                    raise NodeError(
                        f"node {ctx.node_id!r}: {rounds} revision rounds done (max_revisions) "
                        "and no other option to offer",
                        code="revisions_exhausted",
                        retryable=False,
                    )
                config = config.model_copy(update={"options": offered})
                request["options"] = offered
        answer = self._ask(ctx, config, request)
        action = answer["action"]
        if answer.get("timed_out"):
            route = answer.pop("route")
            return NodeResult(output={"approved": route == "approved", **answer}, route=route)
        if action in ("approve", "edit"):
            route = "approved"
        elif action == "reject":
            route = "rejected"
        else:
            route = "revision"
        output = {"approved": route == "approved", **answer}
        if action != "request_revision":
            return NodeResult(output=output, route=route)
        output["revision_target"] = config.revision_target
        if not config.revision_target:
            return NodeResult(output=output, route=route)
        output["revision_round"] = rounds + 1
        again = RevisionRequest(
            target=config.revision_target,
            feedback=answer["feedback"],
            answered_by=answer["answered_by"],
        )
        return NodeResult(output=output, route=route, revision=again)
