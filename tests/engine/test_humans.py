"""Human answers are journaled by question, so none is lost or misdelivered (SPEC §4.5)."""

from __future__ import annotations

import threading

from workspace.domain.run import RunStatus
from workspace.runtime.workspace import Workspace

TWO_HUMANS = """
name: two-humans
flow: explicit
trigger: manual
steps:
  - {id: ha, type: human, message: "A?"}
  - {id: hb, type: human, message: "B?"}
  - {id: both, type: transform, template: "{{ ha.approved }}/{{ hb.approved }}"}
edges:
  - {from: trigger_manual, to: ha}
  - {from: trigger_manual, to: hb}
  - {from: ha, to: both, route: approved}
  - {from: hb, to: both, route: approved}
"""


def _tokens(h) -> dict[str, str]:
    return {p["node_id"]: p["token"] for p in h.pending}


def test_parallel_humans_answered_one_after_the_other(ws: Workspace) -> None:
    h = ws.run(TWO_HUMANS)
    assert h.status == RunStatus.WAITING
    tokens = _tokens(h)
    assert set(tokens) == {"ha", "hb"}
    h = ws.resume(h.id, tokens["ha"], "approve")
    assert h.status == RunStatus.WAITING
    assert [p["node_id"] for p in h.pending] == ["hb"]
    assert _tokens(h)["hb"] == tokens["hb"]  # the open question keeps its token
    assert {s.node_id: s.status.value for s in h.steps}["hb"] == "waiting"
    h = ws.resume(h.id, tokens["hb"], "approve")
    assert h.status == RunStatus.SUCCEEDED, h.error
    assert h.output == {"output": "True/True"}


def test_parallel_humans_answered_at_the_same_moment(mem_ws: Workspace) -> None:
    h = mem_ws.run(TWO_HUMANS)
    tokens = _tokens(h)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def answer(node: str) -> None:
        try:
            barrier.wait()
            mem_ws.resume(h.id, tokens[node], "approve")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=answer, args=(n,)) for n in ("ha", "hb")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    final = mem_ws.get_run(h.id)
    assert final.status == RunStatus.SUCCEEDED, (final.status, final.pending, final.error)
    assert final.output == {"output": "True/True"}


def test_an_invalid_answer_reopens_the_question(ws: Workspace) -> None:
    h = ws.run("""
name: form
trigger: manual
steps:
  - id: ask
    type: human
    message: "How much?"
    fields: [{name: amount, type: number, required: true}]
""")
    first = h.token
    h = ws.resume(h.id, first, {"amount": "twelve"})
    assert h.status == RunStatus.WAITING
    assert "amount" in h.pending[0]["request"]["error"]
    assert h.token != first
    h = ws.resume(h.id, h.token, {"amount": "12"})
    assert h.status == RunStatus.SUCCEEDED, h.error
    assert h.output["data"] == {"amount": 12}


def test_humans_inside_a_parallel_loop_get_their_own_answers(ws: Workspace) -> None:
    h = ws.run(
        """
name: ploop
trigger: manual
steps:
  - id: each
    type: loop
    over: "{{ trigger.items }}"
    mode: parallel
    max_concurrency: 3
    body:
      - {id: ok, type: human, message: "ok {{ loop.item }}?"}
""",
        {"items": ["a", "b", "c"]},
    )
    answers = {"ok a?": "approve", "ok b?": "reject", "ok c?": "approve"}
    for _ in range(10):
        if h.status != RunStatus.WAITING:
            break
        p = h.pending[0]
        h = ws.resume(h.id, p["token"], answers[p["request"]["message"]])
    assert h.status == RunStatus.SUCCEEDED, (h.status, h.error)
    assert [r["approved"] for r in h.output["results"]] == [True, False, True]
