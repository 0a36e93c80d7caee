"""Trigger node types. A trigger's output is the run's trigger payload (the engine passes it as
the node's input): a dict payload is the output as-is, anything else becomes ``{"output": x}``.

The configs are declarations the runtime reads (webhook auth, schedules, Telegram polling); they
are validated here so a bad cron or time zone fails on save, not at 3 a.m.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nodes.paths import as_output
from nodes.timeutil import check_timezone, zone
from workspace.domain import DataType
from workspace.domain.graph import SLUG_RE
from workspace.sdk import NodeContext, NodeType, Port

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
_HEADER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TriggerNode(NodeType):
    """Base of the trigger types: no inputs, output = the trigger payload."""

    category = "trigger"
    is_trigger = True
    inputs = ()
    outputs = (Port(name="output", type=DataType.OBJECT, description="the trigger payload"),)

    def execute(self, ctx: NodeContext, config: Any, input: Any) -> dict[str, Any]:
        return as_output(input)


class ManualConfig(_Strict):
    sample_payload: Any = Field(
        default=None, description="Payload used when the workflow is run with no input."
    )


class ManualTrigger(TriggerNode):
    """Started by hand (notebook, CLI `--input`, canvas, API); output = the given input."""

    name = "trigger_manual"
    Config = ManualConfig

    def execute(self, ctx: NodeContext, config: ManualConfig, input: Any) -> dict[str, Any]:
        if input is None and config.sample_payload is not None:
            return as_output(config.sample_payload)
        return as_output(input)


class ChatConfig(_Strict):
    title: str | None = Field(default=None, description="Chat profile name shown to users.")
    welcome_message: str | None = Field(
        default=None, description="Message shown when a chat starts."
    )


class ChatTrigger(TriggerNode):
    """Fires on a chat message; output `{"text", "user", "channel", ...}`."""

    name = "trigger_chat"
    Config = ChatConfig


class WebhookConfig(_Strict):
    auth: Literal["none", "header", "hmac"] = Field(
        default="none",
        description="`header`: a shared token in `header_name`; `hmac`: HMAC-SHA256 of "
        "`timestamp.body` in `header_name`, timestamp in `timestamp_header`.",
    )
    header_name: str | None = Field(
        default=None,
        description="Header carrying the token or signature "
        "(default X-Plait-Token for header, X-Plait-Signature for hmac).",
    )
    secret: str | None = Field(
        default=None, description="Name of the credential holding the token / HMAC secret."
    )
    timestamp_header: str = Field(
        default="X-Plait-Timestamp", description="Header with the signing time (hmac)."
    )
    replay_window_s: int = Field(
        default=300, ge=1, le=86400, description="Reject signed requests older than this."
    )
    dedupe_header: str | None = Field(
        default=None, description="Header with an event id; repeated ids are ignored."
    )
    dedupe_ttl_s: int = Field(default=86400, ge=1, description="How long event ids are kept.")
    methods: list[HttpMethod] = Field(
        default_factory=lambda: list[HttpMethod](["POST"]),
        min_length=1,
        description="Accepted HTTP methods.",
    )
    mode: Literal["async", "sync"] = Field(
        default="async",
        description="`async`: answer 202 with the run id; `sync`: wait for the run's output.",
    )
    sync_timeout_s: float = Field(
        default=30.0, gt=0, le=300, description="Max wait in sync mode before answering 202."
    )

    @field_validator("header_name", "timestamp_header", "dedupe_header")
    @classmethod
    def _header(cls, v: str | None) -> str | None:
        if v is not None and not _HEADER_RE.match(v):
            raise ValueError(f"invalid header name {v!r}")
        return v

    @model_validator(mode="after")
    def _secret_needed(self) -> WebhookConfig:
        if self.auth != "none" and not self.secret:
            raise ValueError(f"auth {self.auth!r} needs a `secret` credential")
        if self.header_name is None and self.auth != "none":
            self.header_name = "X-Plait-Token" if self.auth == "header" else "X-Plait-Signature"
        return self


class WebhookTrigger(TriggerNode):
    """Fires on an HTTP request; output `{"payload": body, "headers": {...}, "query": {...}}`."""

    name = "trigger_webhook"
    Config = WebhookConfig


class ScheduleConfig(_Strict):
    interval_s: float | None = Field(
        default=None, ge=1, description="Fire every N seconds (exclusive with `cron`)."
    )
    cron: str | None = Field(
        default=None, description="Cron expression, e.g. `0 9 * * 1-5` (exclusive with interval)."
    )
    timezone: str = Field(default="UTC", description="IANA time zone for `cron`.")
    repeats: int | None = Field(
        default=None, ge=1, description="Stop after this many fires (null = forever)."
    )
    catch_up: Literal["skip", "run_once", "run_all"] = Field(
        default="skip",
        description="Fires missed while down: `skip` them, `run_once` for all, or `run_all`.",
    )
    overlap: Literal["skip", "allow"] = Field(
        default="skip",
        description="`skip`: no new fire while the previous run is unfinished (counted as "
        "skipped); `allow`: fire anyway.",
    )
    max_retries: int = Field(
        default=3,
        ge=0,
        le=20,
        description="A failed fire (its run failed, or its task could not be sent) is retried "
        "up to this many times, with exponential backoff capped at 10x the interval.",
    )
    payload: dict[str, Any] = Field(
        default_factory=dict, description="Trigger payload of every fire."
    )

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_timezone(v)

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None and not croniter.is_valid(v):
            raise ValueError(f"invalid cron expression {v!r}")
        return v

    @model_validator(mode="after")
    def _one_of(self) -> ScheduleConfig:
        if (self.interval_s is None) == (self.cron is None):
            raise ValueError("set exactly one of `interval_s` and `cron`")
        return self


class ScheduleTrigger(TriggerNode):
    """Fires on an interval or a cron schedule; output = `payload` plus `{"scheduled_at"}`
    (the ISO-8601 time of the slot, in the schedule's time zone)."""

    name = "trigger_schedule"
    Config = ScheduleConfig

    def execute(self, ctx: NodeContext, config: ScheduleConfig, input: Any) -> dict[str, Any]:
        if input is None:  # run by hand (not by the scheduler): as if a slot fired now
            now = datetime.now(zone(config.timezone)).isoformat()
            return {**config.payload, "scheduled_at": now}
        return as_output(input)


class WorkflowTriggerConfig(_Strict):
    input_schema: dict[str, Any] | None = Field(
        default=None, description="JSON schema of the payload parents pass (documentation)."
    )


class WorkflowTrigger(TriggerNode):
    """Fires when a parent workflow calls this one (`subworkflow`); output = the payload."""

    name = "trigger_workflow"
    Config = WorkflowTriggerConfig


class ErrorTriggerConfig(_Strict):
    workflows: list[str] = Field(
        min_length=1,
        description="Slugs of the workflows to watch; `*` watches every workflow of the owner.",
    )

    @field_validator("workflows")
    @classmethod
    def _slugs(cls, v: list[str]) -> list[str]:
        bad = [s for s in v if s != "*" and not SLUG_RE.match(s)]
        if bad:
            raise ValueError(f"invalid workflow slugs: {bad}")
        return v


class ErrorTrigger(TriggerNode):
    """Fires when a run of a watched workflow fails.

    Output: `{"workflow", "run_id", "error": {code, message}, "node_id"}`.
    """

    name = "trigger_error"
    Config = ErrorTriggerConfig


class TelegramConfig(_Strict):
    credential: str = Field(min_length=1, description="Credential holding the bot token.")
    base_url: str = Field(
        default="https://api.telegram.org",
        pattern=r"^https?://",
        description="Bot API base URL (tests point it at a local fake).",
    )
    mode: Literal["polling", "webhook"] = Field(
        default="polling", description="Long-polling `getUpdates` or a registered webhook."
    )
    poll_timeout_s: int = Field(default=30, ge=0, le=60, description="Long-poll timeout.")
    allowed_updates: list[str] = Field(
        default_factory=lambda: ["message"], description="Update kinds to receive."
    )
    allowed_chat_ids: list[int] | None = Field(
        default=None, description="Only accept these chats (null = any)."
    )


class TelegramTrigger(TriggerNode):
    """Fires on a Telegram message; output `{"text", "user", "chat_id", "message": {...}}`."""

    name = "trigger_telegram"
    Config = TelegramConfig


TRIGGER_TYPES: list[type[NodeType]] = [
    ManualTrigger,
    ChatTrigger,
    WebhookTrigger,
    ScheduleTrigger,
    WorkflowTrigger,
    ErrorTrigger,
    TelegramTrigger,
]
