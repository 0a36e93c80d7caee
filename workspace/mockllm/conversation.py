"""What a chat request says, read the same way for both APIs: the latest user or tool message
(what script rules match), the model, streaming, and a rough size for estimated usage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Turn", "anthropic_turn", "openai_turn"]

Provider = Literal["openai", "anthropic"]


@dataclass(frozen=True)
class Message:
    role: Literal["user", "tool"]
    text: str


@dataclass(frozen=True)
class Turn:
    provider: Provider
    model: str
    stream: bool
    #: latest user message and latest tool message (None when the conversation has none)
    user: Message | None
    tool: Message | None
    #: the latest of the two
    latest: Message | None
    input_chars: int
    include_usage: bool = False

    def message(self, role: str) -> Message | None:
        if role == "user":
            return self.user
        if role == "tool":
            return self.tool
        return self.latest


def _text(content: Any) -> str:
    """Text of a message content: a string, or a list of blocks (text / tool_result)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict):
                if block.get("type") == "tool_result":
                    parts.append(_text(block.get("content")))
                elif isinstance(block.get("text"), str):
                    parts.append(block["text"])
        return "\n".join(parts)
    return json.dumps(content)


def _size(messages: list[Any], extra: Any = None) -> int:
    return len(json.dumps(messages, default=str)) + len(json.dumps(extra, default=str))


def openai_turn(body: dict[str, Any]) -> Turn:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("`messages` must be a non-empty list")
    user = tool = latest = None
    for msg in messages:
        if not isinstance(msg, dict):
            raise ValueError("every message must be an object")
        role = msg.get("role")
        if role in ("user", "tool"):
            latest = Message(role, _text(msg.get("content")))
            if role == "user":
                user = latest
            else:
                tool = latest
    options = body.get("stream_options") or {}
    return Turn(
        provider="openai",
        model=str(body.get("model") or ""),
        stream=bool(body.get("stream")),
        user=user,
        tool=tool,
        latest=latest,
        input_chars=_size(messages, body.get("tools")),
        include_usage=bool(options.get("include_usage")),
    )


def anthropic_turn(body: dict[str, Any]) -> Turn:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("`messages` must be a non-empty list")
    user = tool = latest = None
    for msg in messages:
        if not isinstance(msg, dict):
            raise ValueError("every message must be an object")
        if msg.get("role") != "user":
            continue
        content = msg.get("content")
        results = [
            b for b in content or [] if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        if isinstance(content, list) and results:
            latest = tool = Message("tool", _text(results))
        else:
            latest = user = Message("user", _text(content))
    return Turn(
        provider="anthropic",
        model=str(body.get("model") or ""),
        stream=bool(body.get("stream")),
        user=user,
        tool=tool,
        latest=latest,
        input_chars=_size(messages, [body.get("system"), body.get("tools")]),
    )
