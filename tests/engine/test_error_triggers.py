"""Error triggers (SPEC §3 ``trigger_error``, §4.4): a failed run starts one run of every
workflow watching it — stored with the failure, so exactly once — and error-triggered runs
never fire error triggers again. Every store; inline and worker-driven."""

from __future__ import annotations

import time
from typing import Any

from tests.engine.test_timers import finished, wait_for
from workspace.domain.events import Event, EventType
from workspace.domain.run import Run, RunStatus
from workspace.queue.memory import MemoryTaskQueue
from workspace.queue.ports import Task
from workspace.runtime.sweeper import Sweeper
from workspace.runtime.workspace import Workspace
from workspace.sdk.registry import NodeRegistry
from workspace.settings import Settings
from workspace.store import MemoryStore

FAILING = """
name: failing
trigger: manual
steps:
  - {id: ok, type: transform, template: fine}
  - {id: boom, type: test_flaky, fail_times: 9, code: kaput, retryable: false}
"""

WATCHER = """
name: WATCHER
trigger: {type: trigger_error, id: on_error, workflows: WATCHES}
steps:
  - id: note
    type: transform
    template: >-
      {{ trigger.workflow }}|{{ trigger.run_id }}|{{ trigger.error.code }}|{{ trigger.node_id }}
"""


def watcher(name: str, watches: list[str]) -> str:
    return WATCHER.replace("WATCHER", name).replace("WATCHES", str(watches))


def runs_of(ws: Workspace, slug: str) -> list[Run]:
    return ws.runs(slug)


def settle(ws: Workspace, slug: str, count: int) -> list[Run]:
    """The ``count`` runs of ``slug``, once all finished."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = runs_of(ws, slug)
        if len(found) >= count and all(r.status.terminal for r in found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"{slug}: {[r.status.value for r in runs_of(ws, slug)]}")


def test_a_failed_run_starts_every_watcher_once(ws: Workspace) -> None:
    for text in (
        FAILING,
        watcher("watch-one", ["failing"]),
        watcher("watch-all", ["*"]),
        watcher("watch-other", ["something-else"]),
    ):
        ws.import_dsl(text)
    # the watcher runs exist as soon as the failure does (stored in its transaction)
    seen: dict[str, Any] = {}

    def on_event(ev: Event) -> None:
        if ev.type == EventType.RUN_FAILED and ev.workflow == "failing":
            seen["watchers"] = {r.workflow_slug for r in ws.runs(limit=50)} - {"failing"}

    unsubscribe = ws.subscribe(on_event)
    h = ws.run("failing")
    unsubscribe()
    assert h.status == RunStatus.FAILED and h.error["code"] == "kaput"
    assert seen["watchers"] == {"watch-one", "watch-all"}

    for slug in ("watch-one", "watch-all"):
        (run,) = settle(ws, slug, 1)
        assert run.status == RunStatus.SUCCEEDED, run.error
        assert run.trigger_id == "on_error"
        assert run.input == {
            "workflow": "failing",
            "run_id": h.id,
            "error": {"code": "kaput", "message": "attempt 1 failed"},
            "node_id": "boom",
        }
        assert run.output == {"output": f"failing|{h.id}|kaput|boom"}
        first = ws.store.events.list(run.id)[0]
        assert first.type == EventType.RUN_QUEUED and first.data["error_of"] == h.id
    assert runs_of(ws, "watch-other") == []


def test_runs_started_by_an_error_trigger_fire_no_error_triggers(ws: Workspace) -> None:
    ws.import_dsl(FAILING)
    ws.import_dsl("""
name: inner-fails
trigger: {type: trigger_workflow}
steps:
  - {id: bad, type: test_flaky, fail_times: 9, retryable: false}
""")
    # watches everything, and fails itself — directly and through a failing sub-workflow
    ws.import_dsl("""
name: clumsy-watcher
trigger: {type: trigger_error, id: on_error, workflows: ["*"]}
steps:
  - {id: call, type: subworkflow, workflow: inner-fails}
""")
    h = ws.run("failing")
    assert h.status == RunStatus.FAILED
    (clumsy,) = settle(ws, "clumsy-watcher", 1)
    assert clumsy.status == RunStatus.FAILED
    (inner,) = settle(ws, "inner-fails", 1)
    assert inner.status == RunStatus.FAILED and inner.parent_run_id == clumsy.id
    time.sleep(0.3)
    assert len(runs_of(ws, "clumsy-watcher")) == 1  # neither failure fired it again


def test_watchers_only_see_workflows_of_their_owner(ws: Workspace) -> None:
    ws.save(FAILING, owner="alice")
    ws.publish("failing")
    ws.save(watcher("bobs-all", ["*"]), owner="bob")
    ws.publish("bobs-all")
    ws.save(watcher("bobs-named", ["failing"]), owner="bob")
    ws.publish("bobs-named")
    ws.save(watcher("alices", ["*"]), owner="alice")
    ws.publish("alices")
    assert ws.run("failing").status == RunStatus.FAILED
    (run,) = settle(ws, "alices", 1)
    assert run.status == RunStatus.SUCCEEDED
    assert runs_of(ws, "bobs-all") == [] and runs_of(ws, "bobs-named") == []


def test_only_the_latest_published_version_watches(ws: Workspace) -> None:
    ws.import_dsl(FAILING)
    ws.import_dsl(watcher("fickle", ["failing"]))
    ws.import_dsl(watcher("fickle", ["something-else"]))  # version 2 stops watching
    assert ws.run("failing").status == RunStatus.FAILED
    time.sleep(0.3)
    assert runs_of(ws, "fickle") == []


def test_error_triggers_fire_for_worker_driven_runs(queued_ws: Workspace) -> None:
    ws = queued_ws
    ws.import_dsl(FAILING)
    ws.import_dsl(watcher("watch-one", ["failing"]))
    h = ws.run("failing", wait=True)
    assert h.status == RunStatus.FAILED
    (run,) = settle(ws, "watch-one", 1)
    assert run.status == RunStatus.SUCCEEDED and run.input["run_id"] == h.id


class DownQueue:
    """A task queue that is down (Redis unreachable): every send fails."""

    def send(self, task: Task, *, delay_ms: int = 0) -> str:
        raise ConnectionError("queue is down")

    def backlog(self) -> int:
        raise ConnectionError("queue is down")

    def close(self) -> None:
        pass


def test_a_watcher_run_is_not_lost_when_it_cannot_be_handed_over(
    registry: NodeRegistry, settings: Settings
) -> None:
    """The failure is stored, the process cannot hand the watcher run to the workers (as if
    it died right then): the run is in the store, queued, and the sweeper starts it — once."""
    store = MemoryStore()
    with Workspace(store, settings, registry, queue=DownQueue()) as down:
        down.import_dsl(FAILING)
        down.import_dsl(watcher("watch-one", ["failing"]))
        failed = down.drive(down.create_run("failing"))
        assert failed.status == RunStatus.FAILED
    (queued,) = store.runs.list(workflow_id=down.workflow("watch-one").id)
    assert queued.status == RunStatus.QUEUED

    box: dict[str, Workspace] = {}
    queue = MemoryTaskQueue(lambda task: box["ws"].execute(task), threads=1)
    with Workspace(store, settings, registry, queue=queue) as up:
        box["ws"] = up
        sweeper = Sweeper(store, queue, interval_s=0.1, queued_grace_s=0.2, requeue_ttl_s=30)
        sweeper.start()
        try:
            done = wait_for(up, queued.id, finished)
        finally:
            sweeper.close()
        assert done.status == RunStatus.SUCCEEDED and done.input["run_id"] == failed.id
        assert len(store.runs.list(workflow_id=up.workflow("watch-one").id)) == 1
        started = [e for e in store.events.list(done.id) if e.type == EventType.RUN_STARTED]
        assert len(started) == 1
