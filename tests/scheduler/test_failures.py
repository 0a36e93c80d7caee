"""Failed fires: a failed run counts and is retried with exponential backoff capped at 10x the
interval, up to ``max_retries``; a task that cannot be sent counts and is re-sent; pause and
resume."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.scheduler.kit import FAIL, T0, SwitchQueue, queue_launcher, rig, schedule_dsl
from workspace.domain.run import RunStatus
from workspace.domain.schedule import FireKind
from workspace.runtime.scheduler import ScheduleControl
from workspace.runtime.scheduler.launcher import InlineLauncher
from workspace.runtime.scheduler.planner import backoff_s
from workspace.runtime.workspace import Workspace


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_backoff_doubles_and_is_capped_at_ten_periods() -> None:
    assert [backoff_s(n, 10, 3600) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert [backoff_s(n, 10, 3) for n in (1, 2, 3)] == [10, 20, 30]  # cap: 10 x 3 s
    assert backoff_s(30, 10, 60) == 600


def test_a_failed_run_is_retried_with_backoff_then_the_cadence_goes_on(
    mem_ws: Workspace,
) -> None:
    r = rig(mem_ws, retry_base_s=10)
    sch = r.publish(schedule_dsl(config={"interval_s": 3, "max_retries": 2}, steps=[FAIL]))
    [first] = r.at(T0 + s(3))
    assert r.ws.store.runs.get(first.id).status == RunStatus.FAILED
    assert r.at(T0 + s(3.5)) == []  # sees the failure: retry after min(10, 30) s
    failed = r.schedule(sch.id)
    assert (failed.failures, failed.consecutive_failures) == (1, 1)
    assert failed.retry_at == T0 + s(13.5) and failed.retry_slot == T0 + s(3)
    assert failed.last_status == "failed" and "attempt 1 failed" in (failed.last_error or "")

    # backing off: the slots at 6, 9, 12 s are skipped, not fired
    assert r.at(T0 + s(12.5)) == []
    assert r.schedule(sch.id).skipped == 3
    [retry] = r.at(T0 + s(13.5))
    assert retry.input["scheduled_at"] == (T0 + s(3)).isoformat()  # the failed slot's
    held = r.schedule(sch.id)
    assert held.retries == 1 and held.in_flight[0].kind == FireKind.RETRY
    assert held.in_flight[0].attempt == 1

    assert r.at(T0 + s(14)) == []  # second failure: backoff min(20, 10 x 3) = 20 s
    assert r.schedule(sch.id).retry_at == T0 + s(34)
    [retry2] = r.at(T0 + s(34))
    assert retry2.input["scheduled_at"] == (T0 + s(3)).isoformat()
    assert r.at(T0 + s(34.2)) == []  # third failure: retries (2) exhausted
    exhausted = r.schedule(sch.id)
    assert (exhausted.failures, exhausted.consecutive_failures) == (3, 3)
    assert exhausted.retry_at is None and exhausted.retries == 2
    # back to the normal cadence; the failures stay counted
    [regular] = r.at(T0 + s(36))
    assert regular.input["scheduled_at"] == (T0 + s(36)).isoformat()
    r.at(T0 + s(36.1))
    assert r.schedule(sch.id).failures == 4 and r.schedule(sch.id).retry_at is None


def test_a_success_clears_the_failure_streak(mem_ws: Workspace) -> None:
    r = rig(mem_ws, retry_base_s=10)
    sch = r.publish(schedule_dsl(config={"interval_s": 60}, steps=[FAIL]))
    [first] = r.at(T0 + s(60))
    r.at(T0 + s(61))
    assert r.schedule(sch.id).consecutive_failures == 1
    # a fixed workflow is published (same trigger config: the pending retry stays) ...
    fixed = r.publish(schedule_dsl(config={"interval_s": 60}))
    assert fixed.version == 2 and fixed.retry_at == T0 + s(71)
    # ... the retry runs the new version and succeeds
    [retry] = r.at(T0 + s(71))
    assert retry.version_number == 2
    r.at(T0 + s(72))
    healed = r.schedule(sch.id)
    assert r.ws.store.runs.get(retry.id).status == RunStatus.SUCCEEDED
    assert healed.consecutive_failures == 0 and healed.failures == 1
    assert healed.retry_at is None and healed.last_status == "succeeded"
    assert first.id != retry.id


def test_a_task_that_cannot_be_sent_counts_and_is_resent_once(mem_ws: Workspace) -> None:
    queue = SwitchQueue(down=True)
    r = rig(mem_ws, launcher=queue_launcher(queue), retry_base_s=5)
    sch = r.publish(schedule_dsl(config={"interval_s": 60}))
    [run] = r.at(T0 + s(60))  # stored, but Redis is down
    assert queue.sent == []
    down = r.schedule(sch.id)
    assert down.failures == 1 and down.consecutive_failures == 1
    assert down.retry_at == T0 + s(65) and down.retry_slot is None
    assert not down.in_flight[0].sent and "Redis failed" in (down.last_error or "")
    assert r.ws.store.runs.get(run.id).status == RunStatus.QUEUED  # nothing lost

    queue.down = False
    assert r.at(T0 + s(62)) == [] and queue.sent == []  # backing off
    assert r.at(T0 + s(65)) == []  # the re-send: the same run, not a new one
    assert [(t.kind, t.run_id) for t in queue.sent] == [("start", run.id)]
    first_id = queue.sent[0].message_id
    assert first_id is not None and sch.id in first_id
    sent = r.schedule(sch.id)
    assert sent.in_flight[0].sent and sent.retry_at is None
    # later ticks do not send it again; once a worker ran it, the next slot is a new fire
    r.at(T0 + s(66))
    r.ws.drive(r.ws.store.runs.get(run.id))
    [nxt] = r.at(T0 + s(120.5))
    assert [t.run_id for t in queue.sent] == [run.id, nxt.id]
    assert len(r.runs()) == 2


def test_a_send_lost_in_a_crash_is_sent_by_the_next_tick_once(mem_ws: Workspace) -> None:
    """The fire is stored, the process dies before sending: the next tick sends it with the
    fire's message id; sending it twice delivers it once."""
    queue = SwitchQueue()
    r = rig(mem_ws, launcher=queue_launcher(queue))
    sch = r.publish(schedule_dsl(config={"interval_s": 60}))
    [run] = r.at(T0 + s(60))
    # as if the process had died after storing: forget that the send was confirmed
    stored = r.schedule(sch.id)
    unsent = tuple(e.model_copy(update={"sent": False}) for e in stored.in_flight)
    r.ws.store.schedules.save(stored.model_copy(update={"in_flight": unsent}))
    r.at(T0 + s(61))
    assert [t.run_id for t in queue.sent] == [run.id]  # the queue dropped the repeat
    assert r.schedule(sch.id).in_flight[0].sent


def test_pause_and_resume(mem_ws: Workspace) -> None:
    r = rig(mem_ws)
    control = ScheduleControl(r.ws, clock=r.clock, launcher=InlineLauncher(r.ws, wait=True))
    skip = r.publish(schedule_dsl("skip", config={"interval_s": 60}))
    once = r.publish(schedule_dsl("once", config={"interval_s": 60, "catch_up": "run_once"}))
    assert control.pause(skip.id).paused and control.pause(once.id).paused
    assert control.pause(skip.id).paused  # idempotent
    assert r.at(T0 + s(60)) == [] and r.at(T0 + s(300)) == []
    assert r.schedule(skip.id).wake_at is None

    r.clock.set(T0 + s(330))
    resumed = control.resume(skip.id)
    assert not resumed.paused and resumed.next_fire_at == T0 + s(360)  # missed: skipped
    again = control.resume(once.id)
    assert again.next_fire_at == T0 + s(60)  # missed slots: caught up per policy
    fired = r.at(T0 + s(331))
    assert [run.input["scheduled_at"] for run in fired] == [(T0 + s(300)).isoformat()]
    assert r.runs("once")[0].id == fired[0].id and r.runs("skip") == []
    assert len(r.at(T0 + s(360))) == 2


def test_control_errors_are_clear(mem_ws: Workspace) -> None:
    from workspace.errors import NotFoundError

    control = ScheduleControl(mem_ws)
    for act in (control.pause, control.resume, control.run_now, control.get):
        with pytest.raises(NotFoundError) as err:
            act("nope")
        assert err.value.code == "schedule_not_found"
