"""What a run leaves in the store: its status, step records and a gap-free event log whose
run-level events are written with the status changes they announce."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from workspace.domain.events import EventType
from workspace.domain.run import RunStatus, StepStatus
from workspace.runtime.workspace import Workspace
from workspace.sdk import NodeContext, NodeType

CHAIN = """
name: chain
trigger: manual
steps:
  - id: a
    type: code
    code: |
      return {"x": trigger["n"] + 1}
  - id: b
    type: code
    code: |
      return {"y": a["x"] * 2}
"""

FAILING = """
name: failing
trigger: manual
steps:
  - id: boom
    type: code
    code: |
      raise ValueError("no")
"""


def test_engine_create_stores_the_queued_run_with_its_event(ws: Workspace) -> None:
    ws.import_dsl(CHAIN)
    run = ws.engine.create(ws.prepare_run("chain", {"n": 1}))
    assert ws.store.runs.get(run.id) == run and run.status == RunStatus.QUEUED
    logged = ws.store.events.list(run.id)
    assert [(e.seq, e.type, e.data) for e in logged] == [
        (1, EventType.RUN_QUEUED, {"trigger": run.trigger_id})
    ]
    done = ws.drive(run)
    assert done.status == RunStatus.SUCCEEDED and done.output == {"y": 4}


def test_a_succeeded_run_ends_its_log_with_run_succeeded(ws: Workspace) -> None:
    h = ws.run(CHAIN, {"n": 1})
    assert h.status == RunStatus.SUCCEEDED and h.output == {"y": 4}
    events = ws.store.events.list(h.id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == EventType.RUN_SUCCEEDED
    assert events[-1].data["output"] == {"y": 4}
    run = ws.store.runs.get(h.id)
    assert run.started_at is not None and run.finished_at is not None
    expected = round((run.finished_at - run.started_at).total_seconds() * 1000, 3)
    assert events[-1].data["duration_ms"] == expected
    assert [(s.node_id, s.status) for s in ws.store.runs.list_steps(h.id)] == [
        ("trigger_manual", StepStatus.SUCCEEDED),
        ("a", StepStatus.SUCCEEDED),
        ("b", StepStatus.SUCCEEDED),
    ]


def test_a_failed_run_ends_its_log_with_run_failed(ws: Workspace) -> None:
    h = ws.run(FAILING, {})
    assert h.status == RunStatus.FAILED
    events = ws.store.events.list(h.id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == EventType.RUN_FAILED
    assert events[-1].data["node_id_failed"] == "boom"
    assert events[-1].data["error"] == ws.store.runs.get(h.id).error
    assert [e.type for e in events].count(EventType.RUN_FAILED) == 1


REVIEWED = """
name: reviewed
trigger: manual
steps:
  - id: a
    type: code
    code: |
      return {"x": trigger["n"]}
  - id: review
    type: human
    message: "ok?"
  - id: pay
    type: code
    code: |
      return {"paid": a["x"]}
"""


def test_a_rerun_that_waits_resumes_on_its_own_flow(ws: Workspace) -> None:
    first = ws.run(REVIEWED, {"n": 1})
    first = ws.resume(first.id, first.token, "approve")
    assert first.status == RunStatus.SUCCEEDED and first.output == {"paid": 1}
    again = ws.rerun(first.id, "a", input={"edited": True})
    assert again.status == RunStatus.WAITING
    done = ws.resume(again.id, again.token, "approve")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.output == {"paid": 1}
    assert ws.store.runs.get(done.id).rerun_of == first.id


class _Opaque(BaseModel):
    pass


class UnstorableNode(NodeType):
    """Returns a value that cannot be stored as JSON."""

    name = "test_unstorable"
    Config: ClassVar[type[BaseModel]] = _Opaque

    def execute(self, ctx: NodeContext, config: Any, input: Any) -> dict[str, Any]:
        return {"x": object()}


def test_an_output_that_cannot_be_stored_fails_the_run(ws: Workspace) -> None:
    ws.registry.register(UnstorableNode)
    h = ws.run("name: unstorable\ntrigger: manual\nsteps:\n  - {id: u, type: test_unstorable}\n")
    assert h.status == RunStatus.FAILED
    assert "JSON" in (h.error or {}).get("message", "")
    events = ws.store.events.list(h.id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == EventType.RUN_FAILED
