"""Human-readable lines for events and runs."""

from __future__ import annotations

import json
from typing import Any

from workspace.domain.events import Event, EventType

_ICONS = {
    EventType.RUN_QUEUED: "…",
    EventType.RUN_STARTED: "▶",
    EventType.RUN_RESUMED: "▶",
    EventType.NODE_STARTED: "·",
    EventType.NODE_SUCCEEDED: "✓",
    EventType.NODE_FAILED: "✗",
    EventType.NODE_SKIPPED: "↷",
    EventType.NODE_RETRYING: "↻",
    EventType.NODE_WAITING: "⏸",
    EventType.HUMAN_REQUESTED: "?",
    EventType.HUMAN_ANSWERED: "!",
    EventType.RUN_SUCCEEDED: "■",
    EventType.RUN_FAILED: "■",
    EventType.RUN_CANCELLED: "■",
    EventType.RUN_PAUSED: "⏸",
    EventType.REPLY: "✉",
}


def short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def event_line(ev: Event) -> str | None:
    """One line per step event; None for events that do not deserve a line."""
    if ev.type == EventType.TOKEN:
        return None
    icon = _ICONS.get(ev.type, "-")
    node = f" {ev.node_id}" if ev.node_id else ""
    it = ev.data.get("iteration")
    if it:
        node += f" [{it}]"
    detail = ""
    if ev.type == EventType.NODE_SUCCEEDED:
        route = ev.data.get("route")
        detail = (f" → {route}" if route else "") + f"  ({ev.data.get('duration_ms', 0):.1f} ms)"
    elif ev.type in (EventType.NODE_FAILED, EventType.NODE_RETRYING, EventType.RUN_FAILED):
        err = ev.data.get("error") or {}
        detail = f"  {err.get('code', '')}: {short(err.get('message', ''), 200)}"
        if ev.type == EventType.NODE_RETRYING:
            detail += f" (retry in {ev.data.get('delay_s')}s)"
    elif ev.type == EventType.HUMAN_REQUESTED:
        req = ev.data.get("request") or {}
        detail = f"  {short(req.get('message', ''), 200)}"
    elif ev.type == EventType.REPLY:
        detail = f"  {short(ev.data.get('text', ''), 200)}"
    elif ev.type == EventType.NODE_STARTED:
        return None  # the finishing line says enough for a terminal
    return f"{ev.seq:>4} {icon} {ev.type.value}{node}{detail}"


def waiting_lines(handle: Any) -> list[str]:
    """What a waiting run waits for: open human requests (and their deadlines), timers."""
    lines = []
    for p in handle.pending:
        msg = p["request"].get("message", "")
        until = f" (times out {p['deadline']})" if p.get("deadline") else ""
        lines.append(f"  waiting at {p['node_id']}: {msg}{until}")
        request = p["request"]
        if request.get("error"):
            lines.append(f"    previous answer refused: {request['error']}")
        options = "|".join(request.get("options") or [])
        if request.get("approve_to_start"):
            lines.append(f"    approval to start the run ({options}); nothing has run yet")
        elif request.get("revision_target"):
            lines.append(
                f"    {options}; revision round {request.get('revision_round', 0)} of at most "
                f"{request.get('max_revisions')} (request_revision re-runs "
                f"{request['revision_target']!r} with your --feedback)"
            )
    for t in handle.timers:
        what = f"retry attempt {t.get('attempt')}" if t.get("reason") == "retry" else "timer"
        lines.append(f"  waiting at {t['node_id']}: {what} until {t['until']}")
    if handle.run.wake_at is not None:
        lines.append(f"  wakes at {handle.run.wake_at.isoformat()}")
    return lines
