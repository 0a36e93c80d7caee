"""``NodeRow``: what the run view shows for one node — its status line and, expanded, its
input, output, error and the transcript of an AI node: streamed text and the tool calls it
made, in the order they happened (a tool call is a nested line under the node).

Pure data and HTML (no widgets), so tests read it directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from typing import Any

from kernel_ext.render import as_json

__all__ = ["ICONS", "NodeRow", "ToolLine"]

#: status marks that render in every font (emoji may not, e.g. in a headless browser)
ICONS = {
    "pending": "○",
    "running": "◐",
    "succeeded": "✓",
    "failed": "✗",
    "skipped": "↷",
    "retrying": "↻",
    "waiting": "☛",
    "cancelled": "⊘",
    "queued": "○",
    "paused": "‖",
}
#: longest argument / result text shown on a tool line (the whole value is in the step record)
TOOL_TEXT = 200


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= TOOL_TEXT else text[: TOOL_TEXT - 1] + "…"


@dataclass
class ToolLine:
    """One call of a tool by an AI node (``tool_started`` … ``tool_finished``)."""

    tool: str
    type: str
    call: int
    arguments: Any = None
    status: str = "running"
    output: Any = None
    error: Any = None
    duration_ms: float | None = None

    def text(self) -> str:
        kind = f" ({self.type})" if self.type and self.type != "?" else ""
        line = f"{ICONS.get(self.status, '?')} {self.tool}{kind} {_short(self.arguments)}"
        if self.status == "succeeded":
            line += f" → {_short(self.output)}"
        elif self.status == "failed":
            message = self.error.get("message") if isinstance(self.error, dict) else self.error
            line += f" → error: {_short(message)}"
        if self.duration_ms is not None:
            line += f" — {self.duration_ms:.0f} ms"
        return line

    def html(self) -> str:
        return (
            f'<div class="plait-tool" data-status="{escape(self.status)}" '
            f'style="margin-left:1.2em;font-family:monospace;font-size:12px">'
            f"{escape(self.text())}</div>"
        )


@dataclass
class NodeRow:
    node_id: str
    type: str
    status: str = "pending"
    duration_ms: float | None = None
    iterations: set[str] = field(default_factory=set)
    input: Any = None
    output: Any = None
    error: Any = None
    #: streamed text pieces (``token`` events), in order
    tokens: list[str] = field(default_factory=list)
    tools: list[ToolLine] = field(default_factory=list)
    #: text and tool calls in the order they happened: ``str`` (streamed text) or ``ToolLine``
    transcript: list[str | ToolLine] = field(default_factory=list)
    #: LLM tokens counted on the node's finished step(s)
    llm_tokens: int | None = None

    # -- events --------------------------------------------------------------------------------

    def add_text(self, text: str) -> None:
        self.tokens.append(text)
        if self.transcript and isinstance(self.transcript[-1], str):
            self.transcript[-1] += text
        else:
            self.transcript.append(text)

    def tool_started(self, data: dict[str, Any]) -> None:
        line = ToolLine(
            tool=str(data.get("tool", "?")),
            type=str(data.get("type", "?")),
            call=int(data.get("call", len(self.tools))),
            arguments=data.get("arguments"),
        )
        self.tools.append(line)
        self.transcript.append(line)

    def tool_finished(self, data: dict[str, Any]) -> None:
        tool, call = str(data.get("tool", "?")), data.get("call")
        line = next(
            (
                t
                for t in reversed(self.tools)
                if t.status == "running" and t.tool == tool and (call is None or t.call == call)
            ),
            None,
        )
        if line is None:  # its start was not seen (a view attached mid-call)
            line = ToolLine(tool=tool, type="?", call=int(call or 0))
            self.tools.append(line)
            self.transcript.append(line)
        line.status = "failed" if data.get("error") is not None else "succeeded"
        line.output = data.get("output")
        line.error = data.get("error")
        if data.get("duration_ms") is not None:
            line.duration_ms = float(data["duration_ms"])

    def restarted(self) -> None:
        """A new attempt after ``node_retrying``: what the last one streamed stays, marked."""
        if self.transcript:
            self.transcript.append("\n— retrying —\n")

    # -- display -------------------------------------------------------------------------------

    def title(self) -> str:
        took = f" — {self.duration_ms:.0f} ms" if self.duration_ms is not None else ""
        runs = len(self.iterations)
        times = f" x{runs}" if runs > 1 else ""
        extra = ""
        if self.tools:
            extra += f" · {len(self.tools)} tool call{'s' if len(self.tools) != 1 else ''}"
        if self.llm_tokens is not None:
            extra += f" · {self.llm_tokens} tokens"
        elif self.tokens and self.status == "running":
            extra += " · streaming"
        mark = ICONS.get(self.status, "?")
        return f"{mark} {self.node_id} ({self.type}) {self.status}{times}{extra}{took}"

    def detail(self) -> str:
        parts = []
        if self.input is not None:
            parts.append(f"<b>input</b><pre>{escape(as_json(self.input))}</pre>")
        if self.transcript:
            body = "".join(
                item.html()
                if isinstance(item, ToolLine)
                else f'<pre class="plait-tokens" style="white-space:pre-wrap;margin:2px 0">'
                f"{escape(item)}</pre>"
                for item in self.transcript
            )
            parts.append(f'<b>model</b><div class="plait-transcript">{body}</div>')
        for name, value in (("output", self.output), ("error", self.error)):
            if value is not None:
                parts.append(f"<b>{name}</b><pre>{escape(as_json(value))}</pre>")
        return "".join(parts) or "<i>no data yet</i>"
