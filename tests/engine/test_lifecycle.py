"""Human interrupts, waits, loops, sub-workflows, cancellation and re-runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.testnodes import CancelSelfNode
from workspace.domain.events import EventType
from workspace.domain.run import RunStatus, StepStatus
from workspace.errors import ConflictError, ValidationError
from workspace.runtime.workspace import Workspace

APPROVAL = """
name: approval
trigger: manual
steps:
  - id: review
    type: human
    message: "Pay {{ trigger.amount }}?"
  - id: pay
    type: code
    code: |
      return {"paid": trigger["amount"]}
"""


def test_human_waits_and_resumes_with_one_time_token(ws: Workspace) -> None:
    h = ws.run(APPROVAL, {"amount": 10})
    assert h.status == RunStatus.WAITING
    assert h.pending[0]["node_id"] == "review"
    assert h.pending[0]["request"]["message"] == "Pay 10?"
    token = h.token
    assert token
    with pytest.raises(ValidationError):
        ws.resume(h.id, "not-the-token", "approve")
    done = ws.resume(h.id, token, "approve")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.output == {"paid": 10}
    # the same call again is idempotent: nothing changes, no error
    again = ws.resume(h.id, token, "approve")
    assert again.status == RunStatus.SUCCEEDED
    types = [e.type for e in done.events]
    assert EventType.HUMAN_REQUESTED in types and EventType.HUMAN_ANSWERED in types
    assert types.count(EventType.RUN_SUCCEEDED) == 1


def test_human_reject_ends_the_branch(ws: Workspace) -> None:
    h = ws.run(APPROVAL, {"amount": 10})
    done = ws.resume(h.id, h.token, "reject")
    assert done.status == RunStatus.SUCCEEDED
    steps = {s.node_id: s.status for s in done.steps}
    assert steps["pay"] == StepStatus.SKIPPED
    assert done.output["approved"] is False


def test_resume_survives_reopening_the_workspace(registry, settings, tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "w", settings=settings, registry=registry) as ws1:
        h = ws1.run(APPROVAL, {"amount": 7})
        run_id, token = h.id, h.token
    with Workspace.open(tmp_path / "w", settings=settings, registry=registry) as ws2:
        done = ws2.resume(run_id, token, "approve")
        assert done.status == RunStatus.SUCCEEDED and done.output == {"paid": 7}


def test_resume_of_a_finished_run_is_a_conflict(ws: Workspace) -> None:
    h = ws.run("name: plain\ntrigger: manual\nsteps:\n  - {id: a, type: transform, template: x}\n")
    with pytest.raises(ConflictError):
        ws.resume(h.id, "whatever", "approve")


def test_wait_node_sleeps_durably(ws: Workspace) -> None:
    h = ws.run("""
name: waits
trigger: manual
steps:
  - {id: pause, type: wait, duration: 0.2, unit: seconds}
  - {id: after, type: transform, template: done}
""")
    assert h.status == RunStatus.SUCCEEDED, h.error
    assert h.output == {"output": "done"}
    assert h.steps[1].node_id == "pause"


def test_sequential_and_parallel_loops_keep_item_order(ws: Workspace) -> None:
    for mode in ("sequential", "parallel"):
        h = ws.run(
            f"""
name: loop-{mode}
trigger: manual
steps:
  - id: each
    type: loop
    over: "{{{{ trigger.items }}}}"
    mode: {mode}
    max_concurrency: 3
    body:
      - id: double
        type: code
        code: |
          return loop["item"] * 2
  - id: after
    type: code
    code: |
      return {{"results": each["results"]}}
""",
            {"items": [3, 1, 2, 5]},
        )
        assert h.status == RunStatus.SUCCEEDED, h.error
        assert h.output == {"results": [6, 2, 4, 10]}
        iterations = sorted(s.iteration for s in h.steps if s.node_id == "double")
        assert iterations == [f"each[{i}]" for i in range(4)]


def test_loop_max_iterations_is_enforced(ws: Workspace) -> None:
    h = ws.run(
        """
name: loopmax
trigger: manual
steps:
  - id: each
    type: loop
    over: "{{ trigger.items }}"
    max_iterations: 2
    body:
      - {id: body, type: transform, template: "{{ loop.item }}"}
""",
        {"items": [1, 2, 3]},
    )
    assert h.status == RunStatus.FAILED
    assert h.error["code"] == "max_iterations_exceeded"


def test_human_inside_a_loop(ws: Workspace) -> None:
    h = ws.run(
        """
name: loophuman
trigger: manual
steps:
  - id: each
    type: loop
    over: "{{ trigger.items }}"
    body:
      - {id: ask, type: human, message: "ok {{ loop.item }}?"}
""",
        {"items": ["a", "b"]},
    )
    assert h.status == RunStatus.WAITING
    assert h.pending[0]["request"]["message"] == "ok a?"
    h = ws.resume(h.id, h.token, "approve")
    assert h.status == RunStatus.WAITING, h.error
    assert h.pending[0]["request"]["message"] == "ok b?"
    h = ws.resume(h.id, h.token, "reject")
    assert h.status == RunStatus.SUCCEEDED, h.error
    approved = [r["approved"] for r in h.output["results"]]
    assert approved == [True, False]


def test_subworkflow_returns_child_output(ws: Workspace) -> None:
    ws.import_dsl("""
name: child
trigger: none
steps:
  - {id: shout, type: transform, template: "{{ trigger.text | upper }}"}
""")
    h = ws.run(
        """
name: parent
trigger: manual
steps:
  - {id: call, type: subworkflow, workflow: child, payload: {text: "{{ trigger.msg }}"}}
  - {id: out, type: transform, template: "{{ call.output }}!"}
""",
        {"msg": "hi"},
    )
    assert h.status == RunStatus.SUCCEEDED, h.error
    assert h.output == {"output": "HI!"}
    children = ws.store.runs.list(parent_run_id=h.id)
    assert len(children) == 1 and children[0].status == RunStatus.SUCCEEDED


def test_human_inside_a_subworkflow_pauses_the_parent(ws: Workspace) -> None:
    ws.import_dsl("""
name: child-approval
trigger: none
steps:
  - {id: ok, type: human, message: "child asks"}
  - {id: res, type: transform, template: "yes"}
""")
    h = ws.run("""
name: parent-approval
trigger: manual
steps:
  - {id: call, type: subworkflow, workflow: child-approval}
""")
    assert h.status == RunStatus.WAITING
    assert h.pending[0]["request"]["message"] == "child asks"
    done = ws.resume(h.id, h.token, "approve")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.output == {"output": "yes"}


def test_cancel_stops_between_steps(ws: Workspace, tmp_path: Path) -> None:
    CancelSelfNode.workspace = ws
    log = tmp_path / "ran.log"
    h = ws.run(f"""
name: cancels
trigger: manual
steps:
  - {{id: stop, type: test_cancel_self}}
  - {{id: later, type: test_count, file: "{log}"}}
""")
    assert h.status == RunStatus.CANCELLED
    assert not log.exists()
    assert EventType.RUN_CANCELLED in [e.type for e in h.events]


def test_rerun_from_node_reuses_upstream(ws: Workspace, tmp_path: Path) -> None:
    log = tmp_path / "count.log"
    dsl = f"""
name: rerun
trigger: manual
steps:
  - {{id: up, type: test_count, file: "{log}", value: 1}}
  - {{id: mid, type: test_count, file: "{log}", value: 2}}
  - {{id: down, type: transform, template: "{{{{ input.input }}}}"}}
"""
    first = ws.run(dsl)
    assert first.status == RunStatus.SUCCEEDED, first.error
    assert log.read_text().split() == ["up", "mid"]
    again = ws.rerun(first.id, "mid", input={"edited": True})
    assert again.status == RunStatus.SUCCEEDED, again.error
    assert log.read_text().split() == ["up", "mid", "mid"]
    assert again.run.rerun_of == first.id
    assert again.output == {"output": {"edited": True}}


def test_rerun_output_comes_from_the_new_run(ws: Workspace) -> None:
    dsl = """
name: rerun-output
flow: explicit
trigger: manual
steps:
  - {id: side, type: transform, template: "side"}
  - {id: a, type: transform, template: "a"}
  - {id: c, type: transform, template: "{{ input.output }}"}
edges:
  - {from: trigger_manual, to: a}
  - {from: trigger_manual, to: side}
  - {from: a, to: c}
"""
    # `side` is a sink that finished early in the first run; the re-run's output must still be
    # the node it re-executed, not a reused one
    first = ws.run(dsl)
    assert first.status == RunStatus.SUCCEEDED, first.error
    assert first.output == {"output": "a"}
    again = ws.rerun(first.id, "c", input={"output": "EDITED"})
    assert again.output == {"output": "EDITED"}
