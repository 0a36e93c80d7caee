"""JSON-able description of a node type, as listed by ``plait node-types`` and the API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from workspace.domain.graph import DataType


class PortSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    type: DataType = DataType.ANY
    required: bool = False
    description: str = ""


class NodeTypeSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    category: str
    description: str
    aliases: tuple[str, ...] = ()
    inputs: tuple[PortSpec, ...]
    outputs: tuple[PortSpec, ...]
    config_schema: dict[str, Any]
    routes: bool
    static_routes: tuple[str, ...] | None
    side_effects: bool
    is_trigger: bool
    attachments: tuple[str, ...]
