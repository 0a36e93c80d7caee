"""``ScheduleSpec``: a ``trigger_schedule`` node's configuration, validated by the node type
and read into plain fields (the runtime never imports ``nodes``; the registry has the type)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError as PydanticValidationError

from workspace.domain.graph import Node
from workspace.errors import ConfigurationError
from workspace.runtime.scheduler.cadence import Cadence, CronCadence, IntervalCadence
from workspace.sdk.registry import NodeRegistry

__all__ = ["SCHEDULE_TYPE", "ScheduleSpec", "config_hash"]

SCHEDULE_TYPE = "trigger_schedule"


@dataclass(frozen=True)
class ScheduleSpec:
    interval_s: float | None = None
    cron: str | None = None
    timezone: str = "UTC"
    repeats: int | None = None
    catch_up: str = "skip"  # skip | run_once | run_all
    overlap: str = "skip"  # skip | allow
    max_retries: int = 3
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, registry: NodeRegistry, node: Node) -> ScheduleSpec:
        """The node's configuration; ConfigurationError if the node type refuses it."""
        model = registry.get(SCHEDULE_TYPE).Config
        try:
            config = model.model_validate(node.config)
        except PydanticValidationError as exc:
            raise ConfigurationError(
                f"schedule trigger {node.id!r} is misconfigured: {exc}",
                code="trigger_misconfigured",
            ) from None
        values = config.model_dump()
        known = {k: values[k] for k in cls.__dataclass_fields__ if k in values}
        return cls(**known)

    def cadence(self, anchor: datetime) -> Cadence:
        """The slots; an interval's grid goes through ``anchor``."""
        if self.cron is not None:
            return CronCadence(self.cron, self.timezone)
        assert self.interval_s is not None
        return IntervalCadence(self.interval_s, anchor)

    def stamp(self, slot: datetime) -> str:
        """``scheduled_at`` of a slot: ISO-8601 in the schedule's time zone."""
        return slot.astimezone(ZoneInfo(self.timezone)).isoformat()

    def payload_for(self, slot: datetime) -> dict[str, Any]:
        """The trigger payload of a fire: ``payload`` plus ``scheduled_at``."""
        return {**self.payload, "scheduled_at": self.stamp(slot)}


def config_hash(node: Node) -> str:
    """A hash of the node's configuration: a change makes the scheduler recompute the slots."""
    text = json.dumps(node.config, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
