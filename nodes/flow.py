"""Flow nodes: ``wait`` (durable timer), ``subworkflow`` and ``reply``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from nodes.paths import as_output
from nodes.timeutil import UNIT_SECONDS, Unit, normalise_unit, parse_datetime
from workspace.domain import DataType, EventType
from workspace.domain.graph import SLUG_RE
from workspace.errors import NodeError
from workspace.sdk import NodeContext, NodeType, Port


class WaitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration: float | None = Field(
        default=None,
        ge=0,
        validation_alias=AliasChoices("duration", "delay"),
        description="How long to wait, in `unit` (also accepted as `delay`).",
    )
    unit: Unit = Field(
        default="seconds",
        validation_alias=AliasChoices("unit", "delay_unit"),
        description="Unit of `duration` (also accepted as `delay_unit`; s/m/h/d accepted).",
    )
    until: datetime | None = Field(
        default=None,
        description="Wait until this ISO 8601 datetime instead (naive = UTC).",
    )

    @field_validator("unit", mode="before")
    @classmethod
    def _unit(cls, v: Any) -> Any:
        return normalise_unit(v)

    @model_validator(mode="after")
    def _one_of(self) -> WaitConfig:
        if (self.duration is None) == (self.until is None):
            raise ValueError("set exactly one of `duration` (or `delay`) and `until`")
        return self


class Wait(NodeType):
    """Durable timer: the run releases its worker and resumes when the time has come.

    The deadline is computed once and journaled, so a resumed run keeps it.
    Output: `{"waited_s": seconds, "until": ISO datetime}`.
    """

    name = "wait"
    category = "logic"
    Config = WaitConfig
    pauses = True
    outputs = (Port(name="output", type=DataType.OBJECT, description="{waited_s, until}"),)

    def execute(self, ctx: NodeContext, config: WaitConfig, input: Any) -> dict[str, Any]:
        def deadline() -> dict[str, str]:
            now = datetime.now(UTC)
            if config.until is not None:
                when = parse_datetime(config.until, field="until")
            else:
                seconds = float(config.duration or 0) * UNIT_SECONDS[config.unit]
                when = now + timedelta(seconds=seconds)
            return {"started": now.isoformat(), "until": when.isoformat()}

        plan = ctx.journal(ctx.idempotency_key + ":until", deadline)
        started = datetime.fromisoformat(plan["started"])
        until = datetime.fromisoformat(plan["until"])
        ctx.wait_until(until)
        return {
            "waited_s": max(0.0, (until - started).total_seconds()),
            "until": plan["until"],
        }


class SubworkflowConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(
        min_length=1,
        validation_alias=AliasChoices("workflow", "slug"),
        description="Slug of the workflow to run (also accepted as `slug`).",
    )
    payload: Any = Field(
        default=None,
        description="Trigger payload of the child run (templates allowed); default: this "
        "node's input.",
    )

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, data: Any) -> Any:
        if isinstance(data, dict) and "workflow" in data and "slug" in data:
            raise ValueError("set either `workflow` or `slug`, not both")
        return data


class Subworkflow(NodeType):
    """Run another workflow as a child run and wait for its output.

    Output: the child's output when it is a dict, else `{"output": value}`.
    """

    name = "subworkflow"
    aliases = ("workflow",)
    category = "logic"
    Config = SubworkflowConfig
    side_effects = True

    def execute(self, ctx: NodeContext, config: SubworkflowConfig, input: Any) -> dict[str, Any]:
        slug = config.workflow.strip()
        if not SLUG_RE.match(slug):
            raise NodeError(
                f"invalid workflow slug {slug!r}",
                code="bad_slug",
                retryable=False,
                field="workflow",
            )
        payload = config.payload if config.payload is not None else input
        return as_output(ctx.run_workflow(slug, payload))


class ReplyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Any = Field(default="", description="Message text (template).")
    attachments: list[Any] = Field(
        default_factory=list,
        description="Files or rich elements to send: `{name, url | path | content, mime}`.",
    )
    final: bool = Field(
        default=True, description="The final answer of the run (false: an intermediate message)."
    )


class Reply(NodeType):
    """Send text/attachments back to the channel that triggered the run.

    Emits a `reply` event; delivery is the surface's job (surfaces also see the output in
    `node_succeeded`).
    Output: `{"text", "attachments", "final"}`.
    """

    name = "reply"
    aliases = ("reply_chat",)
    category = "logic"
    Config = ReplyConfig
    outputs = (Port(name="output", type=DataType.OBJECT, description="{text, attachments, final}"),)

    def execute(self, ctx: NodeContext, config: ReplyConfig, input: Any) -> dict[str, Any]:
        text = config.text if isinstance(config.text, str) else _as_text(config.text)
        out = {"text": text, "attachments": list(config.attachments), "final": config.final}
        ctx.emit(EventType.REPLY.value, dict(out))
        return out


def _as_text(value: Any) -> str:
    import json

    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
