"""Optional summarization of a conversation that outgrows the model's window (SPEC §7
Context): the oldest part (never system messages, never the latest message, never a tool call
apart from its results) is summarized by the same model into one system note, which replaces
it. An agent turns it on with ``summarize: true``; without it the oldest history is dropped
(``trim_to_window``)."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from nodes.llm import ask, count_tokens, message_text, trim_to_window
from workspace.sdk import NodeContext
from workspace.sdk.models import ChatModel

__all__ = ["SUMMARY_PREFIX", "summarize_to_window"]

SUMMARY_PREFIX = "Summary of the earlier conversation:"
#: at most this many summarization calls per trim (the newest pieces; older ones are dropped)
MAX_CALLS = 8
INSTRUCTIONS = (
    "Summarize the conversation below for your own later use: keep every fact, name, number, "
    "decision and open question; drop pleasantries. Answer with the summary only."
)


def _is_summary(message: BaseMessage) -> bool:
    return isinstance(message, SystemMessage) and message_text(message).startswith(SUMMARY_PREFIX)


def _lines(messages: Sequence[BaseMessage]) -> list[str]:
    lines = []
    for m in messages:
        text = message_text(m)
        if _is_summary(m):
            lines.append(text)
            continue
        calls = getattr(m, "tool_calls", None)
        if calls:
            text += " " + "; ".join(f"[called {c['name']} with {c['args']}]" for c in calls)
        lines.append(f"{m.type}: {text}")
    return lines


def _chunks(lines: list[str], limit_chars: int) -> list[str]:
    """Consecutive lines joined into pieces of at most ``limit_chars`` (a longer line is cut,
    keeping its end)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = line if len(line) <= limit_chars else "…" + line[-(limit_chars - 1) :]
        if current and len(current) + 1 + len(line) > limit_chars:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks


def summarize_to_window(
    ctx: NodeContext,
    model: ChatModel,
    messages: list[BaseMessage],
    *,
    model_name: str = "",
    reserve: int = 1024,
) -> list[BaseMessage]:
    """``messages`` as they are when they fit the window; else the oldest non-system ones
    (and an earlier summary) summarized into one system note placed after the system messages,
    keeping the newest messages that fit in half of the budget. Falls back to trimming when
    even that does not fit."""
    window = model.context_window
    if not window:
        return messages
    budget = max(256, window - reserve)
    if count_tokens(messages, model_name) <= budget:
        return messages
    head = [m for m in messages if isinstance(m, SystemMessage) and not _is_summary(m)]
    rest = [m for m in messages if m not in head]
    # keep the newest messages that fit in half the budget (at least the last one)
    keep_from = len(rest) - 1
    while keep_from > 0 and count_tokens(rest[keep_from - 1 :], model_name) <= budget // 2:
        keep_from -= 1
    # a tool result must stay with the call that asked for it
    while keep_from > 0 and getattr(rest[keep_from], "type", "") == "tool":
        keep_from -= 1
    old, recent = rest[:keep_from], rest[keep_from:]
    if not old:
        return trim_to_window(messages, window, model_name=model_name, reserve=reserve)
    # fold the old part in pieces that fit the window: each call sees the summary so far
    room = max(64, budget - count_tokens([SystemMessage(INSTRUCTIONS)], model_name) - 64)
    summary = ""
    for chunk in _chunks(_lines(old), room * 4 // 2)[-MAX_CALLS:]:
        text = f"Conversation:\n{chunk}"
        if summary:
            text += f"\n\nSummary of what came before it:\n{summary}"
        reply = ask(ctx, model, [SystemMessage(INSTRUCTIONS), HumanMessage(text)], stream=False)
        summary = message_text(reply).strip()
    note = SystemMessage(f"{SUMMARY_PREFIX}\n{summary}")
    summarized = [*head, note, *recent]
    return trim_to_window(summarized, window, model_name=model_name, reserve=reserve)
