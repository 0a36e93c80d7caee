"""One LLM call as AI nodes make it: stream tokens as ``token`` events, count usage and cost,
turn provider errors into clear step errors, keep the conversation inside the model's window.

Provider errors are read from the exception's class name and ``status_code`` (both the
``openai`` and the ``anthropic`` SDK raise ``APIStatusError`` subclasses with it), so this
module depends on neither SDK.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage

from workspace.errors import NodeError
from workspace.sdk import NodeContext
from workspace.sdk.models import ChatModel

__all__ = ["ask", "count_tokens", "message_text", "trim_to_window"]

#: stream tokens are sent as events in pieces of about this many characters (or this often)
TOKEN_FLUSH_CHARS = 48
TOKEN_FLUSH_S = 0.15


def message_text(message: BaseMessage) -> str:
    """The text of a message (content blocks joined)."""
    content = message.content
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def _provider_error(exc: Exception, node_id: str, described: dict[str, Any]) -> NodeError:
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    where = f"{described.get('provider')} model {described.get('model')!r}"
    detail = str(exc)[:500]
    retry_after = None
    response = getattr(exc, "response", None)
    if response is not None:
        raw = getattr(response, "headers", {}).get("retry-after")
        try:
            retry_after = float(raw) if raw is not None else None
        except ValueError:
            retry_after = None
    if status in (401, 403):
        code, retryable = "provider_auth", False
    elif status == 429:
        code, retryable = "provider_rate_limited", True
    elif status is not None and status >= 500:
        code, retryable = "provider_error", True
    elif status is not None:
        code, retryable = "provider_refused", False
    elif "Timeout" in name:
        code, retryable = "provider_timeout", True
    elif "Connection" in name:
        code, retryable = "provider_unreachable", True
    else:
        code, retryable = "provider_error", True
    extra: dict[str, Any] = {"status": status} if status is not None else {}
    if retry_after is not None:
        extra["retry_after_s"] = retry_after
    return NodeError(
        f"{where}: {name}{f' ({status})' if status else ''}: {detail}",
        code=code,
        node_id=node_id,
        retryable=retryable,
        **extra,
    )


def ask(
    ctx: NodeContext,
    model: ChatModel,
    messages: Sequence[BaseMessage],
    *,
    tools: Sequence[dict[str, Any]] = (),
    stream: bool = True,
) -> AIMessage:
    """One call to the model: tokens stream as ``token`` events (``{"text"}``), usage and
    cost are counted on the node's step, provider errors raise ``NodeError`` with a stable
    code (``provider_auth``, ``provider_rate_limited`` (+ ``retry_after_s``),
    ``provider_error``, ``provider_timeout``, ...) whose ``retryable`` says whether the node's
    retry policy may try again. Cancellation is checked between streamed pieces."""
    client = model.client.bind_tools(list(tools)) if tools else model.client
    try:
        message = _streamed(ctx, client, messages) if stream else client.invoke(list(messages))
    except NodeError:
        raise
    except Exception as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise _provider_error(exc, ctx.node_id, model.described) from None
    usage = getattr(message, "usage_metadata", None) or {}
    tokens_in, tokens_out = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    ctx.add_usage(tokens_in, tokens_out, model.price(tokens_in, tokens_out))
    return message


def _streamed(ctx: NodeContext, client: Any, messages: Sequence[BaseMessage]) -> AIMessage:
    merged: Any = None
    pending: list[str] = []
    size, last = 0, time.monotonic()

    def flush() -> None:
        nonlocal size, last
        if pending:
            ctx.emit("token", {"text": "".join(pending)})
            pending.clear()
        size, last = 0, time.monotonic()

    for chunk in client.stream(list(messages)):
        merged = chunk if merged is None else merged + chunk
        text = message_text(chunk)
        if text:
            pending.append(text)
            size += len(text)
            if size >= TOKEN_FLUSH_CHARS or time.monotonic() - last >= TOKEN_FLUSH_S:
                flush()
                ctx.check_cancelled()  # a cancelled run stops reading (the call is dropped)
    flush()
    if merged is None:
        return AIMessage(content="")
    return AIMessage(
        content=merged.content,
        tool_calls=merged.tool_calls,
        invalid_tool_calls=merged.invalid_tool_calls,
        usage_metadata=merged.usage_metadata,
        response_metadata=merged.response_metadata,
        id=merged.id,
    )


@functools.lru_cache(maxsize=32)
def _encoding(model_name: str) -> Any:
    """tiktoken's encoding for the model, only from a local cache (``TIKTOKEN_CACHE_DIR``):
    tiktoken would otherwise download encodings, and Plait makes no calls users did not ask
    for. None when unavailable."""
    if not os.environ.get("TIKTOKEN_CACHE_DIR"):
        return None
    try:
        import tiktoken

        try:
            return tiktoken.encoding_for_model(model_name)
        except KeyError:
            return tiktoken.get_encoding("o200k_base")
    except Exception:  # not installed, or the encoding is not in the cache
        return None


def count_tokens(messages: Sequence[BaseMessage], model_name: str = "") -> int:
    """Tokens of ``messages``: tiktoken where its encoding is available locally, else about
    four characters per token (plus a few per message)."""
    text = "\n".join(
        message_text(m) + json.dumps(getattr(m, "tool_calls", None) or "") for m in messages
    )
    encoding = _encoding(model_name)
    if encoding is not None:
        return len(encoding.encode(text, disallowed_special=())) + 4 * len(messages)
    return len(text) // 4 + 4 * len(messages)


def trim_to_window(
    messages: list[BaseMessage], window: int | None, *, model_name: str = "", reserve: int = 1024
) -> list[BaseMessage]:
    """Drop the oldest history (never a system message or the last message) until the
    conversation fits ``window - reserve`` tokens."""
    if not window:
        return messages
    budget = max(256, window - reserve)
    kept = list(messages)
    while count_tokens(kept, model_name) > budget:
        drop = next((i for i, m in enumerate(kept[:-1]) if not isinstance(m, SystemMessage)), None)
        if drop is None:
            break
        del kept[drop]
        # a tool result without the call that asked for it is invalid: drop it too
        while drop < len(kept) - 1 and getattr(kept[drop], "type", "") == "tool":
            del kept[drop]
    return kept
