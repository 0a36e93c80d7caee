"""What a waiting run waits for (``Run.pending``) and when it must be woken (``Run.wake_at``).

``pending = {"requests": [...], "timers": [...]}``: open questions for humans (each with its
one-time ``token`` and, for a node with ``timeout_s``, a ``deadline``) and durable timers (a
``wait`` node's deadline or a parked retry, each with ``until``). Both come from the
interrupts LangGraph returned; a timer's interrupt value has ``kind: timer``.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from workspace.domain.run import Run, StepRecord, StepStatus
from workspace.domain.workflow import utcnow
from workspace.engine.compiler import TIMER_KIND


def pending_of(interrupts: list[Any], previous: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The run's ``pending`` from LangGraph's interrupts; a question asked before (same key,
    in ``previous``) keeps its token and request time."""
    requests: list[dict[str, Any]] = []
    timers: list[dict[str, Any]] = []
    for item in interrupts:
        value = dict(item.value) if isinstance(item.value, dict) else {"message": item.value}
        if value.get("kind") == TIMER_KIND:
            timers.append({**value, "interrupt_id": item.id})
            continue
        key = str(value.get("key") or item.id)
        old = previous.get(key)
        requests.append(
            {
                "key": key,
                "interrupt_id": item.id,
                "token": old["token"] if old else secrets.token_urlsafe(18),
                "node_id": value.get("node_id"),
                "iteration": value.get("iteration", ""),
                "request": value,
                "requested_at": old["requested_at"] if old else utcnow().isoformat(),
                "deadline": value.get("deadline"),
            }
        )
    return {"requests": requests, "timers": timers}


def next_wake(pending: dict[str, Any] | None) -> datetime | None:
    """The earliest open timer or human deadline in a waiting run's ``pending``."""
    pending = pending or {}
    times = [t["until"] for t in pending.get("timers", [])] + [
        r["deadline"] for r in pending.get("requests", []) if r.get("deadline")
    ]
    return min((datetime.fromisoformat(t) for t in times), default=None)


def due_timers(pending: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The timers in ``pending`` whose time has come."""
    now = utcnow()
    return [
        t for t in (pending or {}).get("timers", []) if datetime.fromisoformat(t["until"]) <= now
    ]


def waiting_step(run: Run, node_id: str, iteration: str) -> StepRecord:
    """A node's ``waiting`` step record (a re-executed node had recorded itself running)."""
    return StepRecord(
        run_id=run.id,
        node_id=node_id,
        iteration=iteration,
        status=StepStatus.WAITING,
        started_at=utcnow(),
    )
