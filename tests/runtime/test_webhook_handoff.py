"""A webhook is answered once its run is committed: sending the run's task to the queue (a
Redis round trip with workers) happens after, from a background thread."""

from __future__ import annotations

import threading
import time

from tests.engine.test_timers import finished, wait_for
from workspace.domain.run import RunStatus
from workspace.queue.memory import MemoryTaskQueue
from workspace.queue.ports import Task, TaskHandler
from workspace.runtime.webhooks import WebhookReceiver, WebhookRequest
from workspace.runtime.workspace import Workspace
from workspace.sdk.registry import NodeRegistry
from workspace.settings import Settings
from workspace.store import MemoryStore

HOOKED = """
name: Hooked
slug: hooked
trigger: webhook
steps:
  - id: seen
    type: transform
    template: "{{ trigger.payload }}"
"""


class GatedQueue(MemoryTaskQueue):
    """A queue whose ``send`` waits for ``gate`` (a slow or stalled Redis)."""

    def __init__(self, handler: TaskHandler) -> None:
        super().__init__(handler, threads=2)
        self.gate = threading.Event()

    def send(self, task: Task, *, delay_ms: int = 0) -> str:
        assert self.gate.wait(10), "the gate was never opened"
        return super().send(task, delay_ms=delay_ms)


def test_a_webhook_is_answered_before_its_task_is_sent(
    settings: Settings, registry: NodeRegistry
) -> None:
    box: dict[str, Workspace] = {}
    queue = GatedQueue(lambda task: box["ws"].execute(task))
    with Workspace(MemoryStore(), settings, registry, queue=queue) as ws:
        box["ws"] = ws
        ws.import_dsl(HOOKED)
        request = WebhookRequest(
            method="POST", headers={"content-type": "application/json"}, query={}, body=b'{"a": 1}'
        )
        started = time.monotonic()
        result = WebhookReceiver(ws).receive("hooked", "trigger_webhook", request)
        assert time.monotonic() - started < 5  # did not wait for the stalled queue
        assert not result.duplicate
        assert ws.store.runs.get(result.run.id).status == RunStatus.QUEUED  # stored: not lost
        queue.gate.set()  # the queue is back: the handed-off task goes out, the run runs
        done = wait_for(ws, result.run.id, finished)
        assert done.status == RunStatus.SUCCEEDED and done.output == {"output": {"a": 1}}
        assert ws.dispatcher.flush(5)
