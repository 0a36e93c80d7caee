"""Durable timers (SPEC §3 ``wait``, §4.4 retries, §4.5 human timeouts): a run driven by
workers parks instead of sleeping, frees its worker, and a wake-up continues it from its
checkpoint. Every store; the queue is the in-memory one with ONE worker thread."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from workspace.domain.events import EventType
from workspace.domain.run import TIMEOUT_ACTOR, Run, RunStatus, StepStatus
from workspace.domain.workflow import utcnow
from workspace.errors import ConflictError
from workspace.runtime.workspace import Workspace
from workspace.sdk.registry import NodeRegistry
from workspace.settings import Settings

WAITS = """
name: waits
trigger: manual
steps:
  - {id: before, type: transform, template: "{{ trigger.n }}"}
  - {id: pause, type: wait, duration: 1.5, unit: seconds}
  - {id: after, type: transform, template: "done {{ before.output }}"}
"""

QUICK = """
name: quick
trigger: manual
steps:
  - {id: only, type: transform, template: quick}
"""


def wait_for(ws: Workspace, run_id: str, check: Callable[[Run], bool], timeout: float = 30) -> Run:
    deadline = time.monotonic() + timeout
    run = ws.store.runs.get(run_id)
    while time.monotonic() < deadline:
        run = ws.store.runs.get(run_id)
        if check(run):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} is {run.status.value} (pending {run.pending})")


def finished(run: Run) -> bool:
    return run.status.terminal


def test_a_long_wait_parks_the_run_and_frees_the_worker(queued_ws: Workspace) -> None:
    ws = queued_ws
    ws.import_dsl(WAITS)
    ws.import_dsl(QUICK)
    h = ws.run("waits", {"n": 7}, wait=False)
    run = wait_for(ws, h.id, lambda r: r.status == RunStatus.WAITING)
    (timer,) = run.pending["timers"]
    assert timer["node_id"] == "pause" and timer["reason"] == "wait"
    until = datetime.fromisoformat(timer["until"])
    assert run.wake_at == until and until > utcnow()
    assert run.pending["requests"] == []
    # the worker let go of it (right after storing the waiting state)
    wait_for(ws, h.id, lambda r: ws.store.leases.get(r.id).owner is None)
    waiting = [e for e in h.events if e.type == EventType.NODE_WAITING]
    assert [(e.node_id, e.data["until"]) for e in waiting] == [("pause", timer["until"])]
    assert {s.node_id: s.status for s in h.steps}["pause"] == StepStatus.WAITING
    assert ws.store.leases.stale(grace_s=0) == []  # waiting is not a dead run

    # the only worker thread is free: another run completes while the first one waits
    quick = ws.run("quick", wait=True)
    assert quick.status == RunStatus.SUCCEEDED
    assert ws.store.runs.get(h.id).status == RunStatus.WAITING

    done = wait_for(ws, h.id, finished)
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.output == {"output": "done 7"}
    assert done.wake_at is None
    assert utcnow() >= until
    events = h.refresh().events
    succeeded = [e.node_id for e in events if e.type == EventType.NODE_SUCCEEDED]
    assert succeeded.count("pause") == 1 and succeeded.count("before") == 1
    pause = next(e for e in events if e.type == EventType.NODE_SUCCEEDED and e.node_id == "pause")
    assert pause.data["output"]["waited_s"] == pytest.approx(1.5, abs=0.05)
    resumed = [e for e in events if e.type == EventType.RUN_RESUMED]
    assert [e.data.get("timers") for e in resumed] == [["pause"]]
    assert [s.status for s in h.steps] == [StepStatus.SUCCEEDED] * 4


def test_a_short_wait_sleeps_on_the_worker(queued_ws: Workspace) -> None:
    h = queued_ws.run(WAITS.replace("duration: 1.5", "duration: 0.1"), {"n": 1})
    assert h.status == RunStatus.SUCCEEDED, h.error
    assert not any(e.type == EventType.NODE_WAITING for e in h.events)


FLAKY = """
name: flaky-later
trigger: manual
steps:
  - id: f
    type: test_flaky
    fail_times: 2
    retry: {max_attempts: 3, backoff_s: 0.6, max_backoff_s: 0.6, jitter: false}
"""


def test_a_long_retry_backoff_parks_the_run_and_keeps_attempt_numbers(
    queued_ws: Workspace,
) -> None:
    ws = queued_ws
    h = ws.run(FLAKY, wait=False)
    run = wait_for(ws, h.id, lambda r: r.status == RunStatus.WAITING)
    (timer,) = run.pending["timers"]
    assert (timer["node_id"], timer["reason"], timer["attempt"]) == ("f", "retry", 2)
    assert {s.node_id: (s.status, s.attempt) for s in h.steps}["f"] == (StepStatus.RETRYING, 1)

    done = wait_for(ws, h.id, finished)
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.output == {"attempt": 3}
    events = h.refresh().events
    retrying = [e for e in events if e.type == EventType.NODE_RETRYING]
    assert [e.data["attempt"] for e in retrying] == [1, 2]
    assert all(e.data["delay_s"] == 0.6 and "until" in e.data for e in retrying)
    assert [e.type for e in events].count(EventType.RUN_RESUMED) == 2
    step = next(s for s in h.steps if s.node_id == "f")
    assert (step.status, step.attempt) == (StepStatus.SUCCEEDED, 3)
    # each parked retry started no earlier than its backoff allowed
    started = [e.ts for e in events if e.type == EventType.NODE_STARTED and e.node_id == "f"]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(started)]
    assert len(started) == 3 and all(g >= 0.6 for g in gaps), gaps


HUMAN = """
name: timed-approval
flow: explicit
trigger: manual
steps:
  - {id: ask, type: human, message: "Ship it?", timeout_s: TIMEOUT, on_timeout: RULE}
  - {id: ship, type: transform, template: shipped}
  - {id: hold, type: transform, template: held}
  - {id: late, type: transform, template: escalated}
edges:
  - {from: trigger_manual, to: ask}
  - {from: ask, to: ship, route: approved}
  - {from: ask, to: hold, route: rejected}
  - {from: ask, to: late, route: ROUTE}
"""


def human(timeout: float = 1.0, rule: str = "reject") -> str:
    route = rule.removeprefix("route:") if rule.startswith("route:") else "revision"
    return HUMAN.replace("TIMEOUT", str(timeout)).replace("RULE", rule).replace("ROUTE", route)


def test_a_human_timeout_applies_on_timeout_over_workers(queued_ws: Workspace) -> None:
    ws = queued_ws
    h = ws.run(human(1.0, "reject"), wait=False)
    run = wait_for(ws, h.id, lambda r: r.status == RunStatus.WAITING and bool(r.pending))
    (req,) = run.pending["requests"]
    deadline = datetime.fromisoformat(req["deadline"])
    requested = datetime.fromisoformat(req["requested_at"])
    assert timedelta(seconds=0.9) < deadline - requested < timedelta(seconds=1.5)
    assert run.wake_at == deadline

    done = wait_for(ws, h.id, finished)
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.output == {"output": "held"}
    events = h.refresh().events
    answered = [e for e in events if e.type == EventType.HUMAN_ANSWERED]
    assert [(e.node_id, e.data["actor"]) for e in answered] == [("ask", TIMEOUT_ACTOR)]
    step = next(s for s in h.steps if s.node_id == "ask")
    assert step.output["answered_by"] == TIMEOUT_ACTOR and step.output["timed_out"] is True
    assert step.route == "rejected"
    # the token is used up: a late answer gets a clear conflict, and changes nothing
    with pytest.raises(ConflictError) as err:
        ws.resume(h.id, req["token"], "approve")
    assert err.value.code == "request_timed_out"
    assert ws.store.runs.get(h.id).output == {"output": "held"}


def test_an_answer_before_the_deadline_cancels_the_timeout(queued_ws: Workspace) -> None:
    ws = queued_ws
    h = ws.run(human(1.0, "reject"), wait=False)
    run = wait_for(ws, h.id, lambda r: r.status == RunStatus.WAITING and bool(r.pending))
    done = ws.resume(h.id, run.pending["requests"][0]["token"], "approve", wait=True)
    assert done.status == RunStatus.SUCCEEDED and done.output == {"output": "shipped"}
    assert done.run.wake_at is None
    time.sleep(1.5)  # past the old deadline, several sweeps later
    events = h.refresh().events
    answered = [e for e in events if e.type == EventType.HUMAN_ANSWERED]
    assert len(answered) == 1 and "actor" not in answered[0].data
    assert [e.type for e in events].count(EventType.RUN_SUCCEEDED) == 1


@pytest.mark.parametrize(
    ("rule", "output"),
    [("approve", "shipped"), ("reject", "held"), ("route:escalate", "escalated")],
)
def test_on_timeout_rules_inline(mem_ws: Workspace, rule: str, output: str) -> None:
    """Without workers the run sleeps through nothing: it waits, and whoever drives the
    workspace fires due timers (``Timers.fire_due``, what the sweeper's wake does)."""
    h = mem_ws.run(human(0.3, rule))
    assert h.status == RunStatus.WAITING
    assert mem_ws.timers.fire_due() == 0  # not due yet
    time.sleep(0.4)
    assert mem_ws.timers.fire_due() == 1
    done = h.refresh()
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.output == {"output": output}
    step = next(s for s in done.steps if s.node_id == "ask")
    assert step.output["approved"] is (rule == "approve")
    assert step.output["timed_out"] is True


def _threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name and t.is_alive()]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_an_inline_workspace_fires_its_human_timeouts_itself(
    kind: str, registry: NodeRegistry, tmp_path: Path
) -> None:
    """No workers, nobody calls fire_due: the process whose run waits fires the timeout (a
    notebook kernel with a human step of ``timeout_s``); a workspace whose runs never wait
    starts no thread for it, and closing the workspace stops it."""
    settings = Settings(workspace_dir=tmp_path / "ws", runtime={"inline_timer_poll_s": 0.1})
    open_ws = Workspace.in_memory if kind == "memory" else Workspace.open
    args = () if kind == "memory" else (tmp_path / "ws",)
    before = len(_threads("plait-inline-timers"))
    ws = open_ws(*args, settings=settings, registry=registry)  # type: ignore[operator]
    try:
        assert ws.run(QUICK).status == RunStatus.SUCCEEDED
        assert len(_threads("plait-inline-timers")) == before  # nothing waited yet
        h = ws.run(human(0.3, "approve"))
        assert h.status == RunStatus.WAITING
        assert len(_threads("plait-inline-timers")) == before + 1
        done = wait_for(ws, h.id, finished, timeout=10)
        assert done.status == RunStatus.SUCCEEDED, done.error
        assert done.output == {"output": "shipped"}
        answered = [e for e in h.refresh().events if e.type == EventType.HUMAN_ANSWERED]
        assert [e.data["actor"] for e in answered] == [TIMEOUT_ACTOR]
    finally:
        ws.close()
    assert len(_threads("plait-inline-timers")) == before


TWO = """
name: two-deadlines
flow: explicit
trigger: manual
steps:
  - {id: ha, type: human, message: "A?", timeout_s: 0.5}
  - {id: hb, type: human, message: "B?", timeout_s: 60}
  - {id: both, type: transform, template: "{{ ha.approved }}/{{ hb.approved }}"}
edges:
  - {from: trigger_manual, to: ha}
  - {from: trigger_manual, to: hb}
  - {from: ha, to: both}
  - {from: hb, to: both}
"""


def test_parallel_humans_wake_at_the_earliest_open_deadline(ws: Workspace) -> None:
    h = ws.run(TWO)
    assert h.status == RunStatus.WAITING
    reqs = {p["node_id"]: p for p in h.pending}
    assert h.run.wake_at == datetime.fromisoformat(reqs["ha"]["deadline"])
    time.sleep(0.6)
    assert ws.timers.fire_due() == 1
    h.refresh()
    assert h.status == RunStatus.WAITING
    assert [p["node_id"] for p in h.pending] == ["hb"]
    assert h.run.wake_at == datetime.fromisoformat(reqs["hb"]["deadline"])
    assert ws.timers.fire_due() == 0
    done = ws.resume(h.id, reqs["hb"]["token"], "approve")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.output == {"output": "False/True"}
    assert done.run.wake_at is None


def test_a_human_timeout_inside_a_sub_workflow_is_timed_by_the_parent(ws: Workspace) -> None:
    ws.import_dsl("""
name: child-asks
trigger: {type: trigger_workflow}
steps:
  - {id: ask, type: human, message: "OK?", timeout_s: 0.3, on_timeout: reject}
""")
    h = ws.run("""
name: parent-calls
trigger: manual
steps:
  - {id: call, type: subworkflow, workflow: child-asks}
""")
    assert h.status == RunStatus.WAITING
    (req,) = h.pending
    assert req["deadline"] and h.run.wake_at == datetime.fromisoformat(req["deadline"])
    (child,) = ws.store.runs.list(parent_run_id=h.id)
    assert child.status == RunStatus.WAITING and child.wake_at is None  # the parent times it
    time.sleep(0.4)
    assert ws.timers.fire_due() == 1
    done = h.refresh()
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.output["approved"] is False and done.output["answered_by"] == TIMEOUT_ACTOR
    assert ws.store.runs.get(child.id).status == RunStatus.SUCCEEDED
