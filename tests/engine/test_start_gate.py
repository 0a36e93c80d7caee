"""``approve_to_start``: the run asks before it does any work (SPEC §4.5)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from workspace.domain.events import EventType
from workspace.domain.run import RunStatus
from workspace.runtime.workspace import Workspace

# the approver sits at the END of the chain: its question still comes first
GATED = """
name: gated
trigger: manual
steps:
  - {id: prep, type: test_count, file: "{{ trigger.file }}", value: 21}
  - {id: double, type: code, code: "return {'n': prep['value'] * 2}"}
  - {id: ok, type: human, message: "Start for {{ trigger.who }}?", approve_to_start: true}
  - {id: done, type: transform, template: "{{ double.n }} approved={{ ok.approved }}"}
"""


def _ran(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _types(h) -> list[tuple[str, str | None]]:
    return [(e.type.value, e.node_id) for e in h.events]


def test_the_approval_comes_before_any_work_and_is_asked_once(ws: Workspace, tmp_path) -> None:
    count = tmp_path / "count.txt"
    h = ws.run(GATED, {"file": str(count), "who": "ada"})
    assert h.status == RunStatus.WAITING
    (req,) = h.pending
    assert req["node_id"] == "ok"
    assert req["request"]["message"] == "Start for ada?"
    assert req["request"]["approve_to_start"] is True
    assert _ran(count) == []  # nothing ran: not even the first step
    assert {s.node_id: s.status.value for s in h.steps} == {
        "trigger_manual": "succeeded",
        "ok": "waiting",
    }

    h = ws.resume(h.id, h.token, {"action": "approve", "answered_by": "ada"})
    assert h.status == RunStatus.SUCCEEDED, h.error
    assert h.output == {"output": "42 approved=True"}
    assert _ran(count) == ["prep"]
    types = _types(h)
    assert types.count(("human_requested", "ok")) == 1  # reached later, it did not ask again
    # the approval is recorded before the first step starts
    assert types.index(("node_succeeded", "ok")) < types.index(("node_started", "prep"))
    ok = next(s for s in h.steps if s.node_id == "ok")
    assert ok.status.value == "succeeded" and ok.route == "approved"
    assert ok.output["answered_by"] == "ada"
    assert [s.node_id for s in h.steps if s.node_id == "ok"] == ["ok"]  # one step record


def test_a_rejected_start_cancels_the_run_with_the_answer(ws: Workspace, tmp_path) -> None:
    count = tmp_path / "count.txt"
    h = ws.run(GATED, {"file": str(count), "who": "bob"})
    token = h.token
    h = ws.resume(h.id, token, {"action": "reject", "feedback": "not today", "user": "bob"})
    assert h.status == RunStatus.CANCELLED, (h.status, h.error)
    assert h.error is None  # nothing failed
    assert h.output["approved"] is False and h.output["feedback"] == "not today"
    assert _ran(count) == []
    assert {s.node_id for s in h.steps} == {"trigger_manual", "ok"}
    cancelled = [e for e in h.events if e.type == EventType.RUN_CANCELLED]
    assert len(cancelled) == 1
    assert cancelled[0].data["reason"] == "not_approved_to_start"
    assert cancelled[0].data["node_id"] == "ok"
    assert cancelled[0].data["answer"]["answered_by"] == "bob"
    # the decision is final: the same token again changes nothing
    again = ws.resume(h.id, token, "approve")
    assert again.status == RunStatus.CANCELLED
    assert _ran(count) == []


def test_several_gates_are_asked_one_after_the_other(ws: Workspace, tmp_path) -> None:
    count = tmp_path / "count.txt"
    doc = """
name: two-gates
trigger: manual
steps:
  - {id: legal, type: human, message: "Legal?", approve_to_start: true}
  - {id: work, type: test_count, file: "{{ trigger.file }}"}
  - {id: budget, type: human, message: "Budget?", approve_to_start: true}
"""
    h = ws.run(doc, {"file": str(count)})
    assert [p["node_id"] for p in h.pending] == ["legal"]
    h = ws.resume(h.id, h.token, "approve")
    assert h.status == RunStatus.WAITING
    assert [p["node_id"] for p in h.pending] == ["budget"]
    assert _ran(count) == []
    h = ws.resume(h.id, h.token, "reject")
    assert h.status == RunStatus.CANCELLED
    assert h.output["action"] == "reject"
    assert _ran(count) == []

    h = ws.run(doc, {"file": str(count)})
    h = ws.resume(h.id, h.token, "approve")
    h = ws.resume(h.id, h.token, "approve")
    assert h.status == RunStatus.SUCCEEDED, h.error
    assert _ran(count) == ["work"]
    assert [e.node_id for e in h.events if e.type == EventType.HUMAN_REQUESTED] == [
        "legal",
        "budget",
    ]


def test_a_start_question_may_only_use_the_trigger(ws: Workspace) -> None:
    h = ws.run("""
name: early
trigger: manual
steps:
  - {id: prep, type: transform, template: "x"}
  - {id: ok, type: human, message: "Ship {{ prep.output }}?", approve_to_start: true}
""")
    assert h.status == RunStatus.FAILED
    assert h.error["node_id"] == "ok"
    assert "prep" in h.error["message"]
    assert "prep" not in {s.node_id for s in h.steps}


@pytest.mark.parametrize(("rule", "status"), [("reject", "cancelled"), ("approve", "succeeded")])
def test_an_unanswered_start_gate_applies_on_timeout(
    mem_ws: Workspace, rule: str, status: str
) -> None:
    h = mem_ws.run(f"""
name: gate-timeout
trigger: manual
steps:
  - {{id: work, type: transform, template: worked}}
  - {{id: ok, type: human, approve_to_start: true, timeout_s: 0.3, on_timeout: {rule}}}
""")
    (req,) = h.pending
    assert req["deadline"]  # the gate's question has the node's answer deadline
    time.sleep(0.8)
    assert mem_ws.timers.fire_due() == 1
    done = h.refresh()
    assert done.status.value == status, done.error
    ran = {s.node_id for s in done.steps}
    assert ("work" in ran) is (rule == "approve")
    ok = next(s for s in done.steps if s.node_id == "ok")
    assert ok.output["timed_out"] is True


def test_a_start_gate_on_a_branch_not_taken_keeps_its_approval(ws: Workspace) -> None:
    h = ws.run(
        """
name: branch-gate
flow: explicit
trigger: manual
steps:
  - id: pick
    type: switch
    rules: [{field: trigger.kind, operator: equals, value: big, route: big}]
    default: small
  - {id: ok, type: human, message: "Big spend possible, start?", approve_to_start: true}
  - {id: big, type: transform, template: big}
  - {id: small, type: transform, template: small}
edges:
  - {from: trigger_manual, to: pick}
  - {from: pick, to: ok, route: big}
  - {from: ok, to: big, route: approved}
  - {from: pick, to: small, route: small}
""",
        {"kind": "small"},
    )
    assert [p["node_id"] for p in h.pending] == ["ok"]  # asked although its branch may not run
    h = ws.resume(h.id, h.token, {"action": "approve", "answered_by": "ada"})
    assert h.status == RunStatus.SUCCEEDED, h.error
    assert h.output == {"output": "small"}
    steps = {s.node_id: s for s in h.steps}
    assert steps["ok"].status.value == "succeeded"  # the approval stays on record
    assert steps["ok"].output["answered_by"] == "ada"
    assert steps["big"].status.value == "skipped"
