"""An attached tool as the model sees it (its JSON schema) and the config a model's call
gives it: the attachment's own config wins over the model's arguments, fields outside the
type's ``tool_fields`` are refused, invalid arguments are a clear ``bad_tool_arguments``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic

from workspace.errors import NodeError
from workspace.sdk.models import Attached
from workspace.sdk.node import NodeType

__all__ = ["tool_config", "tool_schema"]


def tool_schema(node_type: NodeType, tool: Attached) -> dict[str, Any]:
    """``{"name", "description", "parameters"}``: the config schema without the fields the
    attachment fixes or the model may not set."""
    schema = node_type.Config.model_json_schema()
    fixed = set(tool.config)
    allowed = node_type.tool_fields

    def open_(k: str) -> bool:
        return k not in fixed and (allowed is None or k in allowed)

    props = {k: v for k, v in schema.get("properties", {}).items() if open_(k)}
    params: dict[str, Any] = {"type": "object", "properties": props}
    required = [k for k in schema.get("required", []) if open_(k)]
    if required:
        params["required"] = required
    if "$defs" in schema:
        params["$defs"] = schema["$defs"]
    about = node_type.spec().description
    return {
        "name": tool.node_id,
        "description": f"{tool.label}: {about}" if tool.label else about or tool.type,
        "parameters": params,
    }


def tool_config(
    node_type: NodeType, tool: Attached, args: Mapping[str, Any], fixed: Mapping[str, Any]
) -> Any:
    """The validated Config of one call (``fixed``: the attachment's rendered config)."""
    allowed = node_type.tool_fields
    refused = sorted(k for k in args if allowed is not None and k not in allowed)
    if refused:  # fields only the workflow's author may set (e.g. network access)
        raise NodeError(
            f"tool {tool.node_id!r}: the model may not set {', '.join(refused)}",
            code="bad_tool_arguments",
            node_id=tool.node_id,
            retryable=False,
        )
    try:
        return node_type.Config.model_validate({**args, **fixed})
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise NodeError(
            f"tool {tool.node_id!r}: invalid arguments: {problems}",
            code="bad_tool_arguments",
            node_id=tool.node_id,
            retryable=False,
        ) from None
