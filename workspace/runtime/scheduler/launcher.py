"""``Launcher``: how a stored scheduled run is handed to whoever drives it.

``QueueLauncher`` sends a ``start`` task with the fire's deterministic message id, so sending
the same fire twice (a retry after a lost answer, two schedulers) delivers it once.
``InlineLauncher`` (no Redis) drives the run in this process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from workspace.queue.ports import Task, TaskQueue

if TYPE_CHECKING:
    from workspace.runtime.workspace import Workspace

__all__ = ["InlineLauncher", "Launcher", "QueueLauncher", "default_launcher", "message_id"]


def message_id(fire_key: str) -> str:
    return f"plait-schedule:{fire_key}"


class Launcher(Protocol):
    #: True when a successful ``launch`` is worth recording (a send that can be repeated
    #: safely); False when launching again would drive the run twice
    confirms: bool

    def launch(self, run_id: str, fire_key: str) -> None:
        """Hand the run over; raises if that failed."""
        ...


class QueueLauncher:
    confirms = True

    def __init__(self, queue: TaskQueue) -> None:
        self.queue = queue

    def launch(self, run_id: str, fire_key: str) -> None:
        self.queue.send(Task("start", run_id, message_id=message_id(fire_key)))


class InlineLauncher:
    """Drives runs in this process: in a thread (``wait=False``) or before returning."""

    confirms = False

    def __init__(self, ws: Workspace, *, wait: bool = False) -> None:
        self.ws = ws
        self.wait = wait

    def launch(self, run_id: str, fire_key: str) -> None:
        run = self.ws.store.runs.get(run_id)
        if self.wait:
            self.ws.drive(run)
        else:
            self.ws.submit(run)


def default_launcher(ws: Workspace) -> Launcher:
    return QueueLauncher(ws.queue) if ws.queue is not None else InlineLauncher(ws)
