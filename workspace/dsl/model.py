"""The DSL document schema (pydantic) and its published JSON Schema.

These models validate the *shape* of a document: top-level keys, shared step keys, edges,
layout, patches. Node configs are validated separately against each node type's ``Config``
(see :mod:`workspace.dsl.configcheck`), so a step model allows any extra key here; unknown
step keys are reported by the validator with the node type in hand.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from workspace.domain.graph import NODE_ID_RE, EdgeKind, RetryPolicy
from workspace.errors import Problem

SCHEMA_ID = "https://plait.dev/schemas/dsl.schema.json"

#: Step keys shared by every node type (mapped to ``Node`` fields or edges, never config).
SHARED_STEP_KEYS = frozenset(
    {"id", "type", "label", "retry", "timeout_s", "join", "on_error", "config"}
)
#: Structural keys of steps whose type accepts attachments (``tools``/``model``/``memory``).
ATTACHMENT_STEP_KEYS = {"tool": "tools", "llm": "model", "memory": "memory"}
#: Structural key of loop steps.
BODY_KEY = "body"

TOP_LEVEL_KEYS = (
    "name",
    "slug",
    "description",
    "tags",
    "trigger",
    "triggers",
    "trigger_config",
    "model",
    "durability",
    "timeout_s",
    "budget",
    "settings",
    "steps",
    "edges",
    "layout",
    "flow",
    "based_on",
    "patches",
    "version",
    "meta",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TriggerSpec(BaseModel):
    """A trigger: ``{type: webhook, id?: ..., config: {...}}``; other keys are config too."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="`chat`, `webhook`, ... or the full `trigger_<kind>` name; "
        "`none` = called by parent workflows."
    )
    id: str | None = Field(
        default=None,
        pattern=NODE_ID_RE.pattern,
        description="Node id (default: the trigger type name).",
    )
    label: str | None = None
    config: dict[str, Any] | None = Field(default=None, description="The trigger's config.")


TriggerRef = str | TriggerSpec


class JoinSpecDSL(_Strict):
    mode: Literal["all", "any", "n"] = "n"
    n: int | None = Field(default=None, ge=1)


class StepSpec(BaseModel):
    """One step. Every key that is not a shared step key is the node's config (validated
    against the node type's ``Config``); ``config:`` may also hold it as a nested mapping."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Field(
        default=None,
        pattern=NODE_ID_RE.pattern,
        description="Node id, unique (default `<type>_<position>`).",
    )
    type: str = Field(description="Node type name or alias (see `plait node-types`).")
    label: str | None = None
    retry: RetryPolicy | None = None
    timeout_s: float | None = Field(default=None, gt=0)
    join: Literal["all", "any"] | int | JoinSpecDSL | None = Field(
        default=None, description="`all` (default), `any`, or `{n: K}` / K."
    )
    on_error: str | None = Field(default=None, description="Step id of the error handler.")
    config: dict[str, Any] | None = Field(
        default=None, description="Config as a nested mapping (alternative to step-level keys)."
    )
    body: list[StepSpec | str] | None = Field(
        default=None, description="Loop steps only: the body (inline steps or step ids)."
    )
    tools: list[str | dict[str, Any]] | None = Field(
        default=None, description="Agent-like steps: tool types or `{type, id?, ...config}`."
    )
    model: str | dict[str, Any] | None = Field(
        default=None, description="Agent-like steps: the model (becomes an `ai_model` node)."
    )
    memory: bool | dict[str, Any] | None = Field(
        default=None, description="Agent-like steps: conversation memory (a `memory` node)."
    )


class EdgeSpec(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", description="Source step id.")
    to: str = Field(description="Target step id.")
    route: str | None = Field(default=None, description="Route value (makes a `route` edge).")
    kind: EdgeKind | None = Field(default=None, description="Edge kind (default data/route).")
    from_port: str | None = None
    to_port: str | None = None


class PositionSpec(_Strict):
    x: float
    y: float


class PatchSpec(BaseModel):
    """A fork-and-patch action; parameters depend on the action (see `workspace.dsl.patches`)."""

    model_config = ConfigDict(extra="allow")

    action: Literal[
        "add_step",
        "remove_step",
        "update_prompt",
        "update_config",
        "add_tool",
        "remove_tool",
        "update_trigger",
        "update_model",
    ]


class Document(_Strict):
    """A Plait workflow document (YAML DSL, SPEC §5)."""

    model_config = ConfigDict(
        extra="forbid",
        title="Plait workflow DSL",
        json_schema_extra={"$id": SCHEMA_ID},
    )

    name: str | None = Field(default=None, description="Workflow name (this or `slug`).")
    slug: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="Unique slug (default: derived from `name`).",
    )
    description: str | None = None
    tags: list[str] | None = None
    trigger: TriggerRef | None = Field(
        default=None, description="One trigger (default `manual`); `none` = called by parents."
    )
    triggers: list[TriggerRef] | None = Field(default=None, description="Several triggers.")
    trigger_config: dict[str, Any] | None = Field(
        default=None, description="Pipelit spelling: config of the single `trigger`."
    )
    model: str | dict[str, Any] | None = Field(
        default=None,
        description="Default model of AI steps: {inherit} | {capability} | {discover, "
        "preference} | {credential, model_name, temperature...}.",
    )
    durability: Literal["sync", "async", "exit"] | None = None
    timeout_s: float | None = Field(default=None, gt=0, description="Run timeout.")
    budget: float | dict[str, Any] | None = Field(default=None, description="Run/workflow budget.")
    settings: dict[str, Any] | None = Field(
        default=None, description="Other workflow-wide settings, kept as given."
    )
    steps: list[StepSpec] | None = Field(default=None, description="Steps in declaration order.")
    edges: list[EdgeSpec] | None = Field(default=None, description="Explicit extra edges.")
    layout: dict[str, PositionSpec | tuple[float, float]] | None = Field(
        default=None, description="Canvas positions by node id."
    )
    flow: Literal["implicit", "explicit"] | None = Field(
        default=None, description="`explicit`: no implicit chain; edges come from `edges:`."
    )
    based_on: str | None = Field(default=None, description="Fork: slug of the base workflow.")
    patches: list[PatchSpec] | None = Field(default=None, description="Fork: patch actions.")
    version: int | str | None = Field(default=None, description="Free-form document version.")
    meta: dict[str, Any] | None = Field(default=None, description="Free-form metadata.")


_DOC_ADAPTER: TypeAdapter[Document] = TypeAdapter(Document)


def dsl_json_schema() -> dict[str, Any]:
    """The JSON Schema of the DSL (written to ``docs/dsl.schema.json``)."""
    schema = Document.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


_UNION_TAG = re.compile(r"^(str|int|float|bool|list\[.*\]|dict\[.*\]|[A-Z]\w*|.*\[.*\])$")


def loc_to_path(data: Any, loc: tuple[int | str, ...]) -> str:
    """Map a pydantic error location onto a document path, skipping union-member tags."""
    from workspace.dsl.source import join_index, join_key

    path = ""
    current = data
    for part in loc:
        if isinstance(current, dict) and isinstance(part, str) and part in current:
            path = join_key(path, part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path = join_index(path, part)
            current = current[part]
        elif isinstance(part, str) and isinstance(current, dict) and not _UNION_TAG.match(part):
            path = join_key(path, part)  # a missing key
            current = None
    return path


def document_shape_errors(data: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """Shape errors of a top-level document: ``(path, code, message, at_key)`` tuples.

    One entry per path (union members repeat errors; the first one wins). Errors on step
    ``id``/``type``/``on_error`` and unknown top-level keys are left to the compiler/validator.
    """
    from pydantic import ValidationError

    out: dict[str, tuple[str, str, str, bool]] = {}
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            out[key] = (key, "unknown_key", f"unknown top-level key {key!r}", True)
    try:
        _DOC_ADAPTER.validate_python(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            if err["type"] == "extra_forbidden" and len(loc) == 1:
                continue
            if loc and loc[0] == "steps" and loc[-1] in ("id", "type", "on_error"):
                continue  # the compiler reports these with their own codes
            if loc and loc[0] == "patches" and len(loc) > 2:
                continue  # patch parameters are checked by the patcher
            path = loc_to_path(data, loc)
            if path in out:
                continue
            at_key = err["type"] in ("extra_forbidden", "missing")
            code = (
                "unknown_key"
                if err["type"] == "extra_forbidden"
                else ("missing_key" if err["type"] == "missing" else "invalid_value")
            )
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = f"unknown key {str(loc[-1])!r}"
            elif err["type"] == "missing":
                msg = f"missing required key {str(loc[-1])!r}"
            out[path] = (path, code, msg, at_key)
    return list(out.values())


__all__ = [
    "ATTACHMENT_STEP_KEYS",
    "BODY_KEY",
    "SHARED_STEP_KEYS",
    "TOP_LEVEL_KEYS",
    "Document",
    "EdgeSpec",
    "PatchSpec",
    "PositionSpec",
    "Problem",
    "StepSpec",
    "TriggerSpec",
    "document_shape_errors",
    "dsl_json_schema",
    "loc_to_path",
]
