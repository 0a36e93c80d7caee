"""Contract of ``ScheduleRepository`` on memory, SQLite and PostgreSQL: identity, listing,
``due``, the compare-and-set ``save`` that stores a fire's runs with their keys atomically, and
the cascade when a workflow is deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.contracts.storekit import make_workflow, race
from workspace.domain.ports import Store
from workspace.domain.run import Run
from workspace.domain.schedule import FireKind, InFlight, Schedule, fire_key
from workspace.domain.workflow import Workflow
from workspace.errors import ConflictError, NotFoundError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def schedule(wf: Workflow, trigger: str = "every", **kw: Any) -> Schedule:
    return Schedule(
        workflow_id=wf.id,
        workflow_slug=wf.slug,
        trigger_id=trigger,
        version=1,
        config_hash="sha256:cfg",
        **kw,
    )


def run_of(wf: Workflow, trigger: str = "every", **kw: Any) -> Run:
    return Run(
        workflow_id=wf.id,
        workflow_slug=wf.slug,
        version_number=1,
        version_hash="sha256:abc",
        trigger_id=trigger,
        **kw,
    )


def test_create_get_find_and_identity(store: Store) -> None:
    wf = make_workflow(store)
    paris = timezone(timedelta(hours=1))
    created = store.schedules.create(
        schedule(
            wf,
            next_fire_at=datetime(2026, 3, 1, 13, 0, tzinfo=paris),
            wake_at=T0,
            in_flight=(InFlight(run_id="r1", slot=T0, kind=FireKind.RETRY, attempt=2),),
        )
    )
    assert created.rev == 0
    got = store.schedules.get(created.id)
    assert got == created
    assert got.next_fire_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert got.next_fire_at is not None and got.next_fire_at.tzinfo == UTC
    assert got.in_flight[0].kind == FireKind.RETRY and got.in_flight[0].attempt == 2
    assert got.in_flight[0].slot == T0 and not got.in_flight[0].sent
    assert store.schedules.find(wf.id, "every") == got
    assert store.schedules.find(wf.id, "other") is None

    with pytest.raises(ConflictError) as dup:
        store.schedules.create(schedule(wf))
    assert dup.value.code == "schedule_exists"
    with pytest.raises(NotFoundError) as missing:
        store.schedules.get("nope")
    assert missing.value.code == "schedule_not_found"
    ghost = Workflow(slug="ghost", name="Ghost")
    with pytest.raises(NotFoundError):
        store.schedules.create(schedule(ghost))


def test_list_orders_filters_and_pages(store: Store) -> None:
    alice = make_workflow(store, "b-alice", owner="alice")
    bob = make_workflow(store, "a-bob", owner="bob")
    for wf, trigger in [(alice, "t2"), (alice, "t1"), (bob, "zz")]:
        store.schedules.create(schedule(wf, trigger))
    every = store.schedules.list()
    assert [(s.workflow_slug, s.trigger_id) for s in every] == [
        ("a-bob", "zz"),
        ("b-alice", "t1"),
        ("b-alice", "t2"),
    ]
    assert [s.trigger_id for s in store.schedules.list(owner="alice")] == ["t1", "t2"]
    assert [s.trigger_id for s in store.schedules.list(workflow_id=bob.id)] == ["zz"]
    assert store.schedules.list(owner="carol") == []
    assert [s.trigger_id for s in store.schedules.list(limit=1, offset=1)] == ["t1"]
    first = store.schedules.find(alice.id, "t1")
    assert first is not None
    store.schedules.save(first.model_copy(update={"paused": True}))
    assert [s.trigger_id for s in store.schedules.list(paused=True)] == ["t1"]
    assert [s.trigger_id for s in store.schedules.list(paused=False)] == ["zz", "t2"]
    assert store.schedules.list(owner="bob", paused=True) == []


def test_due_is_by_wake_time(store: Store) -> None:
    wf = make_workflow(store)
    late = store.schedules.create(schedule(wf, "late", wake_at=T0 + timedelta(seconds=5)))
    early = store.schedules.create(schedule(wf, "early", wake_at=T0 - timedelta(seconds=5)))
    store.schedules.create(schedule(wf, "never"))
    store.schedules.create(schedule(wf, "later", wake_at=T0 + timedelta(hours=1)))
    assert [s.id for s in store.schedules.due(T0)] == [early.id]
    assert [s.id for s in store.schedules.due(T0 + timedelta(seconds=5))] == [early.id, late.id]
    assert [s.id for s in store.schedules.due(T0 + timedelta(seconds=5), limit=1)] == [early.id]


def test_save_is_a_compare_and_set(store: Store) -> None:
    wf = make_workflow(store)
    first = store.schedules.create(schedule(wf))
    saved, runs = store.schedules.save(first.model_copy(update={"fires": 1, "paused": True}))
    assert runs == []
    assert saved.rev == 1 and saved.fires == 1 and saved.paused
    assert saved.updated_at >= first.updated_at
    assert store.schedules.get(first.id) == saved

    stale = first.model_copy(update={"fires": 99})
    with pytest.raises(ConflictError) as lost:
        store.schedules.save(stale, [("k", run_of(wf))])
    assert lost.value.code == "schedule_changed"
    assert store.schedules.get(first.id).fires == 1  # nothing of the loser is stored
    assert store.runs.list(workflow_id=wf.id) == []

    store.schedules.delete(first.id)
    store.schedules.delete(first.id)  # idempotent
    with pytest.raises(NotFoundError):
        store.schedules.save(saved)


def test_fires_are_stored_with_their_keys_once(store: Store) -> None:
    wf = make_workflow(store)
    sch = store.schedules.create(schedule(wf))
    slot = T0
    key = fire_key(sch.id, slot, FireKind.SLOT)
    retry_key = fire_key(sch.id, slot, FireKind.RETRY, 1)
    assert len({key, retry_key, fire_key(sch.id, slot, FireKind.MANUAL)}) == 3
    a = run_of(wf, input={"scheduled_at": slot.isoformat()})
    sch, out = store.schedules.save(sch, [(key, a)])
    assert [(r.id, new) for r, new in out] == [(a.id, True)]
    assert store.runs.get(a.id).input == {"scheduled_at": slot.isoformat()}

    # the same slot again (a second scheduler, a restart): the first run, nothing new
    b, c = run_of(wf), run_of(wf)
    sch, out = store.schedules.save(sch, [(key, b), (retry_key, c)])
    assert [(r.id, new) for r, new in out] == [(a.id, False), (c.id, True)]
    with pytest.raises(NotFoundError):
        store.runs.get(b.id)
    assert sch.rev == 2
    # the keys are those of webhook deliveries of the same trigger: one mechanism
    again, new = store.deliveries.create_run(
        run_of(wf), workflow_id=wf.id, trigger_id="every", key=key, ttl_s=60
    )
    assert (again.id, new) == (a.id, False)


def test_racing_schedulers_store_one_fire(store: Store) -> None:
    wf = make_workflow(store)
    sch = store.schedules.create(schedule(wf))
    key = fire_key(sch.id, T0, FireKind.SLOT)
    candidates = [run_of(wf) for _ in range(4)]

    def fire(run: Run) -> Any:
        return store.schedules.save(sch.model_copy(update={"fires": 1}), [(key, run)])

    results = race(*[lambda r=r: fire(r) for r in candidates])
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1, results
    assert all(isinstance(r, ConflictError) for r in results if r not in winners)
    stored = store.runs.list(workflow_id=wf.id)
    assert len(stored) == 1 and stored[0].id == winners[0][1][0][0].id
    assert store.schedules.get(sch.id).rev == 1


def test_deleting_the_workflow_deletes_its_schedules(store: Store) -> None:
    gone = make_workflow(store)
    kept = make_workflow(store)
    doomed = store.schedules.create(schedule(gone))
    survivor = store.schedules.create(schedule(kept))
    store.workflows.delete(gone.slug)
    with pytest.raises(NotFoundError):
        store.schedules.get(doomed.id)
    assert [s.id for s in store.schedules.list()] == [survivor.id]
