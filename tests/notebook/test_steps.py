"""``Workspace.save_step`` (a ``%%step`` cell) on the in-memory store, SQLite and PostgreSQL:
fork-and-patch of the draft, idempotent, clear errors that lose nothing."""

from __future__ import annotations

import pytest

from workspace.domain.run import RunStatus
from workspace.errors import DSLError, NotFoundError, ValidationError
from workspace.runtime.workspace import Workspace

SKELETON = """
name: Greeter
trigger: manual
steps:
  - id: shout
    type: code
  - id: answer
    type: reply
    text: "{{ shout.text }}"
"""


def test_a_step_cell_completes_a_draft_that_then_runs(ws: Workspace) -> None:
    ws.save(SKELETON, draft=True)
    assert ws.validate(ws.export("greeter"), draft=True).missing  # code still missing
    ws.save_step("greeter", "shout", 'return {"text": trigger["name"].upper()}')
    node = next(n for n in ws.graph("greeter").nodes if n.id == "shout")
    assert node.config["code"] == 'return {"text": trigger["name"].upper()}\n'
    ws.publish("greeter")
    handle = ws.run("greeter", {"name": "ana"})
    assert handle.status == RunStatus.SUCCEEDED and handle.output["text"] == "ANA"


def test_rerunning_a_cell_changes_nothing(ws: Workspace) -> None:
    ws.save(SKELETON, draft=True)
    ws.save_step("greeter", "shout", "return {'text': 'a'}")
    first = ws.graph("greeter")
    ws.save_step("greeter", "shout", "return {'text': 'a'}\n")  # what a kernel passes
    ws.save_step("greeter", "extra", "return 1", type="code", after="shout")
    ws.save_step("greeter", "extra", "return 1", type="code", after="shout")
    again = ws.graph("greeter")
    assert [n.id for n in again.nodes] == ["trigger_manual", "shout", "extra", "answer"]
    assert len(again.nodes) == len(first.nodes) + 1
    assert {(e.source, e.target) for e in again.edges} == {
        ("trigger_manual", "shout"),
        ("shout", "extra"),
        ("extra", "answer"),
    }


def test_cells_patch_the_draft_not_the_published_version(ws: Workspace) -> None:
    ws.save(
        SKELETON.replace(
            "    type: code\n", "    type: code\n    code: \"return {'text': 'v1'}\"\n"
        )
    )
    ws.publish("greeter")
    ws.save(
        SKELETON.replace('text: "{{ shout.text }}"', 'text: "draft {{ shout.text }}"'), draft=True
    )
    ws.save_step("greeter", "shout", "return {'text': 'v2'}")
    draft = {n.id: n.config for n in ws.graph("greeter").nodes}
    assert draft["answer"]["text"] == "draft {{ shout.text }}"  # the draft's, kept
    assert draft["shout"]["code"] == "return {'text': 'v2'}\n"
    published = {n.id: n.config for n in ws.graph("greeter", draft=False).nodes}
    assert published["shout"]["code"] == "return {'text': 'v1'}"
    assert ws.workflow("greeter").name == "Greeter"


def test_bad_cells_fail_clearly_and_leave_the_draft_alone(ws: Workspace) -> None:
    ws.save(SKELETON, draft=True)
    before = ws.graph("greeter")
    with pytest.raises(ValidationError) as err:
        ws.save_step("greeter", "answer", "x", type="code")
    assert err.value.code == "step_type_conflict"
    with pytest.raises(DSLError) as bad:  # a template that does not parse
        ws.save_step("greeter", "answer", "{{ shout.text ")
    assert any(p.code == "template_syntax" for p in bad.value.problems)
    with pytest.raises(NotFoundError):
        ws.save_step("nosuch", "a", "return 1")
    assert ws.graph("greeter") == before
