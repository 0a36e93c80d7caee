"""The scheduler with a fake clock on a real workspace: slots, payload, repeats, catch-up,
overlap guard, cron, sync on publish."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from tests.scheduler.kit import T0, ParkedLauncher, rig, schedule_dsl
from workspace.domain.run import RunStatus
from workspace.domain.schedule import FireKind
from workspace.runtime.workspace import Workspace


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_an_interval_schedule_fires_once_per_slot_with_its_payload(mem_ws: Workspace) -> None:
    r = rig(mem_ws)
    sch = r.publish(schedule_dsl(config={"interval_s": 60, "payload": {"team": "ops"}}))
    assert sch.next_fire_at == T0 + s(60)  # first slot: one interval after publishing
    assert r.at(T0 + s(59)) == []
    [run] = r.at(T0 + s(60.2))
    assert run.input == {"team": "ops", "scheduled_at": "2026-03-02T12:01:00+00:00"}
    assert run.trigger_id == "every" and run.user is None
    done = r.ws.store.runs.get(run.id)
    assert done.status == RunStatus.SUCCEEDED
    assert done.output == {"output": {"team": "ops", "scheduled_at": "2026-03-02T12:01:00+00:00"}}
    assert r.at(T0 + s(61)) == []  # the same slot never fires twice
    assert r.at(T0 + s(100)) == []
    [second] = r.at(T0 + s(120))
    after = r.schedule(sch.id)
    assert after.fires == 2 and after.last_run_id == second.id
    assert after.last_status == "queued"  # as recorded at fire time ...
    r.at(T0 + s(121))
    after = r.schedule(sch.id)
    assert after.last_status == "succeeded" and after.in_flight == ()  # ... then observed
    assert after.next_fire_at == T0 + s(180)
    assert next(e.type for e in r.ws.store.events.list(run.id)) == "run_queued"


def test_repeats_end_the_schedule(mem_ws: Workspace) -> None:
    r = rig(mem_ws)
    sch = r.publish(schedule_dsl(config={"interval_s": 10, "repeats": 2}))
    assert len(r.at(T0 + s(10))) == 1
    assert len(r.at(T0 + s(20))) == 1
    assert r.at(T0 + s(30)) == [] and r.at(T0 + s(300)) == []
    done = r.schedule(sch.id)
    assert done.done and done.fires == 2 and done.next_fire_at is None
    assert done.wake_at is None


@pytest.mark.parametrize(
    ("catch_up", "grace", "expected_slots"),
    [
        ("skip", 30.0, []),  # the newest missed slot is 40 s late: dropped
        ("skip", 60.0, [540]),  # within the grace: the newest fires
        ("run_once", 30.0, [540]),  # one run for all of them, for the newest slot
        ("run_all", 30.0, [60 * k for k in range(1, 10)]),
    ],
)
def test_catch_up_after_downtime(
    mem_ws: Workspace, catch_up: str, grace: float, expected_slots: list[int]
) -> None:
    r = rig(mem_ws, misfire_grace_s=grace)
    sch = r.publish(schedule_dsl(config={"interval_s": 60, "catch_up": catch_up}))
    fired = r.at(T0 + s(580))  # down from before the first slot to 40 s after the 9th
    stamps = sorted(run.input["scheduled_at"] for run in fired)
    assert stamps == [(T0 + s(x)).isoformat() for x in expected_slots]
    after = r.schedule(sch.id)
    assert after.next_fire_at == T0 + s(600)  # on the grid, after now
    assert after.fires == len(expected_slots) and after.skipped == 0


def test_run_all_is_capped_with_a_warning(
    mem_ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    r = rig(mem_ws, catch_up_cap=3)
    r.publish(schedule_dsl(config={"interval_s": 60, "catch_up": "run_all"}))
    with caplog.at_level(logging.WARNING):
        fired = r.at(T0 + s(60 * 50 + 1))
    assert sorted(run.input["scheduled_at"] for run in fired) == [
        (T0 + s(60 * k)).isoformat() for k in (48, 49, 50)
    ]
    assert "more than 3 slots were missed" in caplog.text


def test_overlap_skip_holds_fires_while_the_previous_run_is_unfinished(
    mem_ws: Workspace,
) -> None:
    parked = ParkedLauncher()
    r = rig(mem_ws, launcher=parked)
    sch = r.publish(schedule_dsl(config={"interval_s": 10}))
    [first] = r.at(T0 + s(10))
    assert r.at(T0 + s(20)) == [] and r.at(T0 + s(30)) == []
    held = r.schedule(sch.id)
    assert held.skipped == 2 and held.fires == 1 and held.next_fire_at == T0 + s(40)
    assert [e.run_id for e in held.in_flight] == [first.id]
    assert r.at(T0 + s(35)) == []  # watching the unfinished run changes (writes) nothing
    assert r.schedule(sch.id).rev == held.rev
    r.ws.drive(r.ws.store.runs.get(first.id))  # the slow run finishes
    [second] = r.at(T0 + s(40))
    assert second.input["scheduled_at"] == (T0 + s(40)).isoformat()
    assert parked.launched == [first.id, second.id]


def test_overlap_allow_fires_anyway(mem_ws: Workspace) -> None:
    parked = ParkedLauncher()
    r = rig(mem_ws, launcher=parked)
    sch = r.publish(schedule_dsl(config={"interval_s": 10, "overlap": "allow"}))
    for k in (1, 2, 3):
        assert len(r.at(T0 + s(10 * k))) == 1
    allowed = r.schedule(sch.id)
    assert allowed.skipped == 0 and allowed.fires == 3 and len(allowed.in_flight) == 3


def test_cron_schedule_in_a_zone_across_a_dst_change(mem_ws: Workspace) -> None:
    """A weekday 09:00 New York job: 14:00 UTC before the change, 13:00 UTC after."""
    from datetime import UTC, datetime

    start = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)  # Thursday, after that day's fire
    r = rig(mem_ws)
    r.clock.set(start)
    sch = r.publish(schedule_dsl(config={"cron": "0 9 * * 1-5", "timezone": "America/New_York"}))
    fired: list[str] = []
    t = start
    while t < datetime(2026, 3, 11, 0, 0, tzinfo=UTC):
        t += timedelta(minutes=30)
        fired += [run.input["scheduled_at"] for run in r.at(t)]
    assert fired == [
        "2026-03-06T09:00:00-05:00",
        "2026-03-09T09:00:00-04:00",
        "2026-03-10T09:00:00-04:00",
    ]
    assert r.schedule(sch.id).fires == 3


def test_publishing_syncs_schedules(mem_ws: Workspace) -> None:
    r = rig(mem_ws)
    sch = r.publish(schedule_dsl(config={"interval_s": 60}))
    [run] = r.at(T0 + s(60))
    paused = r.ws.store.schedules.save(r.schedule(sch.id).model_copy(update={"paused": True}))
    assert paused[0].paused

    # the same content published again: nothing changes
    r.ws.save(schedule_dsl(config={"interval_s": 60}))
    r.ws.publish("tick")
    assert r.schedule(sch.id).next_fire_at == T0 + s(120)

    # a changed configuration: next fire recomputed from now; pause and counters kept
    r.clock.set(T0 + s(90))
    changed = r.publish(schedule_dsl(config={"interval_s": 600}))
    assert changed.id == sch.id and changed.version == 3
    assert changed.next_fire_at == T0 + s(690)
    assert changed.paused and changed.fires == 1 and changed.last_run_id == run.id

    # a second trigger gets its own schedule; removing one removes its schedule
    wf = r.ws.workflow("tick")
    r.ws.save(_two_triggers())
    r.ws.publish("tick")
    assert sorted(x.trigger_id for x in r.ws.store.schedules.list(workflow_id=wf.id)) == [
        "every",
        "hourly",
    ]
    r.ws.save(schedule_dsl(trigger_id="hourly", config={"cron": "0 * * * *"}))
    r.ws.publish("tick")
    assert [x.trigger_id for x in r.ws.store.schedules.list(workflow_id=wf.id)] == ["hourly"]

    # a workflow without schedule triggers has none; a deleted workflow neither
    r.ws.store.workflows.delete("tick")
    assert r.ws.store.schedules.list() == []


def _two_triggers() -> str:
    return """
name: Tick tick
slug: tick
triggers:
  - type: schedule
    id: every
    interval_s: 600
  - type: schedule
    id: hourly
    cron: "0 * * * *"
steps:
  - id: echo
    type: transform
    template: "{{ trigger }}"
""".lstrip()


def test_the_leader_reconciles_workflows_published_before(mem_ws: Workspace) -> None:
    r = rig(mem_ws)
    sch = r.publish(schedule_dsl(config={"interval_s": 60}))
    r.ws.store.schedules.delete(sch.id)  # e.g. published before the scheduler existed
    assert r.at(T0 + s(1)) == []  # the first tick syncs every workflow
    [again] = r.ws.store.schedules.list()
    assert again.next_fire_at == T0 + s(61)
    assert len(r.at(T0 + s(61))) == 1


def test_run_now_fires_at_once_whatever_the_cadence(mem_ws: Workspace) -> None:
    from workspace.runtime.scheduler import ScheduleControl
    from workspace.runtime.scheduler.launcher import InlineLauncher

    r = rig(mem_ws)
    sch = r.publish(schedule_dsl(config={"interval_s": 3600, "payload": {"x": 1}}))
    control = ScheduleControl(r.ws, clock=r.clock, launcher=InlineLauncher(r.ws, wait=True))
    control.pause(sch.id)
    r.clock.set(T0 + s(5))
    run = control.run_now(sch.id)
    assert run.input == {"x": 1, "scheduled_at": (T0 + s(5)).isoformat()}
    assert r.ws.store.runs.get(run.id).status == RunStatus.SUCCEEDED
    after = r.schedule(sch.id)
    assert after.fires == 0 and after.last_run_id == run.id and after.paused
    assert after.in_flight[0].kind == FireKind.MANUAL
    assert after.next_fire_at == T0 + s(3600)
