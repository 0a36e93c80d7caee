"""``request_revision``: feedback goes back to an earlier node, which runs again with it, and
so does everything down to the human, who is asked again — in the same run (SPEC §4.5)."""

from __future__ import annotations

from pathlib import Path

from workspace.domain.events import EventType
from workspace.domain.run import RunStatus
from workspace.runtime.workspace import Workspace

# research (upstream, counted) → draft (code, reads `revision`) → polish → review → publish;
# `aside` leaves draft on a side branch (counted: it ran on the first draft and is not repeated)
REVIEWED = """
name: reviewed
flow: explicit
trigger: manual
steps:
  - {id: research, type: test_count, file: "{{ trigger.file }}", value: facts}
  - id: draft
    type: code
    code: |
      note = revision["feedback"] or "first try"
      return {"text": f"draft {revision['round']} on {research['value']}: {note}"}
  - {id: aside, type: test_count, file: "{{ trigger.file }}"}
  - {id: polish, type: transform, template: "{{ draft.text }}!"}
  - id: review
    type: human
    message: "Round {{ revision.round }}: {{ polish.output }}"
    options: [approve, reject, request_revision]
    revision_target: draft
    max_revisions: 2
  - {id: publish, type: transform, template: "published {{ polish.output }}"}
  - {id: shelve, type: transform, template: "shelved"}
edges:
  - {from: trigger_manual, to: research}
  - {from: research, to: draft}
  - {from: draft, to: aside}
  - {from: draft, to: polish}
  - {from: polish, to: review}
  - {from: review, to: publish, route: approved}
  - {from: review, to: shelve, route: rejected}
"""


def _ran(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _revise(ws: Workspace, h, feedback: str, who: str = "ada"):
    answer = {"action": "request_revision", "feedback": feedback, "answered_by": who}
    return ws.resume(h.id, h.token, answer)


def test_revision_rounds_rerun_from_the_target_with_the_feedback(
    ws: Workspace, tmp_path: Path
) -> None:
    count = tmp_path / "count.txt"
    h = ws.run(REVIEWED, {"file": str(count)})
    assert h.status == RunStatus.WAITING
    first = h.pending[0]["request"]
    assert first["message"] == "Round 0: draft 0 on facts: first try!"
    assert first["revision_round"] == 0 and first["max_revisions"] == 2
    assert "request_revision" in first["options"]

    h = _revise(ws, h, "shorter")
    assert h.status == RunStatus.WAITING, h.error
    second = h.pending[0]["request"]
    assert second["message"] == "Round 1: draft 1 on facts: shorter!"
    assert second["revision_round"] == 1

    h = _revise(ws, h, "even shorter", who="bob")
    third = h.pending[0]["request"]
    assert third["message"] == "Round 2: draft 2 on facts: even shorter!"
    # the rounds are used up: the question offers approve / reject only
    assert third["options"] == ["approve", "reject"]
    h = _revise(ws, h, "one more?")
    assert h.status == RunStatus.WAITING
    assert "not offered" in h.pending[0]["request"]["error"]

    h = ws.resume(h.id, h.token, {"action": "approve", "answered_by": "ada"})
    assert h.status == RunStatus.SUCCEEDED, h.error
    assert h.output == {"output": "published draft 2 on facts: even shorter!"}
    # upstream ran once (reused in every round); the side branch is not repeated
    assert sorted(_ran(count)) == ["aside", "research"]

    # each round has its own step records: iteration revision[k]
    steps = {(s.node_id, s.iteration): s for s in h.steps}
    for node in ("draft", "polish", "review"):
        assert {k[1] for k in steps if k[0] == node} == {"", "revision[1]", "revision[2]"}
    assert {k[1] for k in steps if k[0] in ("research", "aside", "publish")} == {""}
    assert steps[("draft", "revision[1]")].output == {"text": "draft 1 on facts: shorter"}
    assert steps[("review", "")].route == "revision"
    assert steps[("review", "")].output["feedback"] == "shorter"
    assert steps[("review", "revision[1]")].output["answered_by"] == "bob"
    assert steps[("review", "revision[2]")].route == "approved"

    revisions = [e for e in h.events if e.type == EventType.REVISION_REQUESTED]
    assert [(e.node_id, e.data["round"], e.data["feedback"]) for e in revisions] == [
        ("review", 1, "shorter"),
        ("review", 2, "even shorter"),
    ]
    assert revisions[0].data["target"] == "draft"
    assert revisions[0].data["nodes"] == ["draft", "polish", "review"]
    assert revisions[1].data["answered_by"] == "bob"
    started = [e.node_id for e in h.events if e.type == EventType.NODE_STARTED]
    assert started.count("research") == 1 and started.count("draft") == 3


def test_a_rejection_after_a_revision_takes_the_rejected_route(
    ws: Workspace, tmp_path: Path
) -> None:
    h = ws.run(REVIEWED, {"file": str(tmp_path / "count.txt")})
    h = _revise(ws, h, "try again")
    h = ws.resume(h.id, h.token, "reject")
    assert h.status == RunStatus.SUCCEEDED, h.error
    assert h.output == {"output": "shelved"}
    status = {(s.node_id, s.iteration): s.status.value for s in h.steps}
    assert status[("publish", "")] == "skipped"
    assert status[("review", "revision[1]")] == "succeeded"


def test_a_revision_needs_feedback_and_loses_nothing(ws: Workspace, tmp_path: Path) -> None:
    h = ws.run(REVIEWED, {"file": str(tmp_path / "count.txt")})
    token = h.token
    h = ws.resume(h.id, token, {"action": "request_revision"})
    assert h.status == RunStatus.WAITING
    request = h.pending[0]["request"]
    assert "feedback" in request["error"] and request["revision_round"] == 0
    assert h.token != token  # the question is open again, with a new token
    assert not [e for e in h.events if e.type == EventType.REVISION_REQUESTED]


def test_a_loop_in_the_revised_part_runs_again_per_round(ws: Workspace) -> None:
    h = ws.run(
        """
name: loop-revision
trigger: manual
steps:
  - id: each
    type: loop
    over: "{{ trigger.items }}"
    body:
      - {id: line, type: transform, template: "{{ loop.item }}{{ revision.feedback or '' }}"}
  - id: review
    type: human
    message: "{{ each.results | join(',') }}"
    options: [approve, request_revision]
    revision_target: each
""",
        {"items": ["a", "b"]},
    )
    assert h.pending[0]["request"]["message"] == "a,b"
    h = _revise(ws, h, "!")
    assert h.pending[0]["request"]["message"] == "a!,b!"
    h = ws.resume(h.id, h.token, "approve")
    assert h.status == RunStatus.SUCCEEDED, h.error
    iterations = sorted(s.iteration for s in h.steps if s.node_id == "line")
    assert iterations == ["each[0]", "each[1]", "revision[1]/each[0]", "revision[1]/each[1]"]


def test_a_rendered_revision_target_off_the_path_fails_the_run_clearly(ws: Workspace) -> None:
    h = ws.run(
        """
name: bad-target
trigger: manual
steps:
  - {id: draft, type: transform, template: "d"}
  - id: review
    type: human
    options: [approve, request_revision]
    revision_target: "{{ trigger.target }}"
  - {id: publish, type: transform, template: "p"}
""",
        {"target": "publish"},
    )
    h = _revise(ws, h, "again")
    assert h.status == RunStatus.FAILED
    assert h.error["code"] == "bad_revision_target"
    assert "'publish' is not an earlier step" in h.error["message"]
