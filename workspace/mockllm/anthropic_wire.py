"""Anthropic Messages wire format: responses, SSE events and errors."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from workspace.mockllm.responder import Reply

__all__ = ["error_body", "events", "message", "models_list"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _input(arguments: str) -> Any:
    """A tool call's input object; a malformed one is passed on as the raw string."""
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.content:
        blocks.append({"type": "text", "text": reply.content})
    for call in reply.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call.arguments)}
        )
    return blocks


def _stop(reply: Reply) -> str:
    return "tool_use" if reply.tool_calls else "end_turn"


def message(reply: Reply, model: str) -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _blocks(reply),
        "stop_reason": _stop(reply),
        "stop_sequence": None,
        "usage": {"input_tokens": reply.prompt_tokens, "output_tokens": reply.completion_tokens},
    }


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"


def _pieces(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


def events(reply: Reply, model: str) -> Iterator[str]:
    """The SSE events of a streamed message."""
    head = message(reply, model)
    yield _event(
        "message_start",
        {
            "message": {
                **head,
                "content": [],
                "stop_reason": None,
                "usage": {"input_tokens": reply.prompt_tokens, "output_tokens": 1},
            }
        },
    )
    index = 0
    if reply.content:
        yield _event(
            "content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}}
        )
        for piece in _pieces(reply.content, reply.chunk_chars):
            yield _event(
                "content_block_delta",
                {"index": index, "delta": {"type": "text_delta", "text": piece}},
            )
        yield _event("content_block_stop", {"index": index})
        index += 1
    for call in reply.tool_calls:
        block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        yield _event("content_block_start", {"index": index, "content_block": block})
        for piece in _pieces(call.arguments, reply.chunk_chars * 2):
            yield _event(
                "content_block_delta",
                {"index": index, "delta": {"type": "input_json_delta", "partial_json": piece}},
            )
        yield _event("content_block_stop", {"index": index})
        index += 1
    yield _event(
        "message_delta",
        {
            "delta": {"stop_reason": _stop(reply), "stop_sequence": None},
            "usage": {"output_tokens": reply.completion_tokens},
        },
    )
    yield _event("message_stop", {})


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def models_list(models: list[str]) -> dict[str, Any]:
    data = [
        {
            "type": "model",
            "id": m,
            "display_name": f"{m} (scripted mock)",
            "created_at": "2026-01-01T00:00:00Z",
        }
        for m in models
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": models[0] if models else None,
        "last_id": models[-1] if models else None,
    }
