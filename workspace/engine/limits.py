"""Running a node attempt under a time limit (SPEC §4.4: timeouts enforced pre-emptively)."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any

from workspace.engine.services import ABANDONED
from workspace.errors import NodeTimeout


def call_with_timeout(fn: Callable[[], Any], timeout: float | None, node_id: str) -> Any:
    """Run ``fn`` with a deadline. A thread cannot be killed, so on timeout the attempt is
    *abandoned*: its flag makes the next ``check_cancelled`` in that thread raise (code
    snippets poll it and kill their subprocess; loops and child runs stop at their next step).
    """
    if timeout is None:
        return fn()
    box: dict[str, Any] = {}
    ctx = contextvars.copy_context()
    abandoned = threading.Event()

    def target() -> None:
        ABANDONED.set(abandoned)
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the calling thread
            box["error"] = exc

    t = threading.Thread(target=ctx.run, args=(target,), name=f"plait-node-{node_id}", daemon=True)
    t.start()
    t.join(max(timeout, 0.0))
    if t.is_alive():
        abandoned.set()
        raise NodeTimeout(
            f"node {node_id!r} exceeded its time limit of {timeout:.3g}s", node_id=node_id
        )
    if "error" in box:
        raise box["error"]
    return box.get("value")
