"""Contract of the runtime repositories (access, leases, workers, deliveries) on every store."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.contracts.storekit import event, make_run, make_workflow, race
from workspace.domain.access import Role, User, new_api_key
from workspace.domain.events import Event, EventType
from workspace.domain.operations import QUEUE_OWNER, WorkerInfo
from workspace.domain.ports import Store
from workspace.domain.run import Run, RunStatus
from workspace.domain.workflow import utcnow
from workspace.errors import ConflictError, NotFoundError

# --- access -----------------------------------------------------------------------------------


def test_users_and_keys(store: Store) -> None:
    alice = store.access.create_user(User(name="alice", role=Role.ADMIN))
    bob = store.access.create_user(User(name="bob"))
    with pytest.raises(ConflictError):
        store.access.create_user(User(name="alice"))
    assert [u.name for u in store.access.list_users()] == ["alice", "bob"]
    assert store.access.find_user("bob") == bob
    assert store.access.find_user("carol") is None
    assert store.access.get_user(alice.id).is_admin
    with pytest.raises(NotFoundError):
        store.access.get_user("nope")

    key, secret = new_api_key(bob.id, "laptop")
    store.access.add_key(key)
    assert key.hash not in secret and secret.startswith("plait_")
    found = store.access.authenticate(secret)
    assert found is not None
    assert found[0] == bob and found[1].id == key.id and found[1].last_used_at is not None
    assert store.access.authenticate(secret + "x") is None
    assert store.access.authenticate("plait_nothing") is None
    assert store.access.authenticate("") is None
    assert [k.id for k in store.access.list_keys(bob.id)] == [key.id]
    assert store.access.list_keys(alice.id) == []

    revoked = store.access.revoke_key(key.id)
    assert revoked.revoked_at is not None
    assert store.access.revoke_key(key.id).revoked_at == revoked.revoked_at  # idempotent
    assert store.access.authenticate(secret) is None
    with pytest.raises(NotFoundError):
        store.access.revoke_key("nope")
    with pytest.raises(NotFoundError):
        store.access.add_key(new_api_key("ghost")[0])


# --- leases -----------------------------------------------------------------------------------


def test_a_run_is_claimed_by_one_owner_at_a_time(store: Store) -> None:
    run = make_run(store)
    assert store.leases.get(run.id).owner is None
    assert store.leases.claim(run.id, "w1", 30)
    assert store.leases.claim(run.id, "w1", 30)  # re-entrant for its owner
    assert not store.leases.claim(run.id, "w2", 30)
    assert store.leases.get(run.id).owner == "w1"
    store.leases.release(run.id, "w2")  # not the owner: no effect
    assert store.leases.get(run.id).owner == "w1"
    store.leases.release(run.id, "w1")
    assert store.leases.claim(run.id, "w2", 30)
    with pytest.raises(NotFoundError):
        store.leases.claim("nope", "w1", 30) or store.leases.get("nope")


def test_concurrent_claims_have_one_winner(store: Store) -> None:
    run = make_run(store)
    results = race(*[lambda i=i: store.leases.claim(run.id, f"w{i}", 30) for i in range(6)])
    assert results.count(True) == 1


def test_expired_and_queue_leases_are_free_and_finished_runs_cannot_be_claimed(
    store: Store,
) -> None:
    run = make_run(store)
    assert store.leases.claim(run.id, "w1", 0.05)
    time.sleep(0.1)
    assert store.leases.claim(run.id, "w2", 30)  # w1's lease expired
    other = make_run(store)
    assert store.leases.claim(other.id, "w1", 30)
    assert store.leases.heartbeat("w1", 60) == 1
    assert store.leases.get(other.id).until is not None
    store.runs.transition(other.id, RunStatus.CANCELLED)
    store.leases.release(other.id, "w1")
    assert not store.leases.claim(other.id, "w3", 30)


def test_a_terminal_transition_drops_the_lease_and_nothing_else_does(store: Store) -> None:
    """The driver of a finished run writes no release: the status write dropped it."""
    run = make_run(store)
    store.runs.transition(run.id, RunStatus.RUNNING)
    assert store.leases.claim(run.id, "w1", 30)
    store.runs.transition(run.id, RunStatus.WAITING)  # not terminal: still w1's
    assert store.leases.get(run.id).owner == "w1"
    store.runs.transition(run.id, RunStatus.RUNNING)
    store.runs.transition(run.id, RunStatus.SUCCEEDED)
    lease = store.leases.get(run.id)
    assert (lease.owner, lease.until) == (None, None)
    assert store.leases.heartbeat("w1", 30) == 0

    # the same through the event log's transition (status + final event in one write)
    other = make_run(store)
    store.runs.transition(other.id, RunStatus.RUNNING)
    assert store.leases.claim(other.id, "w1", 30)
    store.events.record_transition(
        other.id, RunStatus.FAILED, {}, (), [event(other, EventType.RUN_FAILED)]
    )
    assert store.leases.get(other.id).owner is None
    assert not store.leases.claim(other.id, "w2", 30)


def test_start_runs_a_queued_run_and_leases_it_in_one_write(store: Store) -> None:
    run = make_run(store)
    started = store.leases.start(run.id, "w1", 30)
    assert started is not None
    assert started.status == RunStatus.RUNNING and started.started_at is not None
    assert store.runs.get(run.id) == started
    lease = store.leases.get(run.id)
    assert lease.owner == "w1" and lease.until is not None and lease.until > utcnow()
    assert store.leases.start(run.id, "w2", 30) is None  # not queued anymore
    assert store.leases.get(run.id).owner == "w1"

    # only from queued: a waiting or paused run is never started by it (running is reachable
    # from those too, through resume)
    store.runs.transition(run.id, RunStatus.WAITING)
    store.leases.release(run.id, "w1")
    assert store.leases.start(run.id, "w2", 30) is None
    assert store.runs.get(run.id).status == RunStatus.WAITING
    assert store.leases.get(run.id).owner is None
    with pytest.raises(NotFoundError):
        store.leases.start("nope", "w1", 30)


def test_concurrent_starts_have_one_winner(store: Store) -> None:
    run = make_run(store)
    results = race(*[lambda i=i: store.leases.start(run.id, f"w{i}", 30) for i in range(6)])
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert store.leases.get(run.id).owner == f"w{results.index(winners[0])}"


def test_stale_runs_are_requeued_once(store: Store) -> None:
    wf = make_workflow(store)
    fresh = make_run(store, wf)  # queued, never claimed, but young
    old = make_run(store, wf, created_at=utcnow() - timedelta(seconds=120))
    dead = make_run(store, wf)
    store.runs.transition(dead.id, RunStatus.RUNNING)
    assert store.leases.claim(dead.id, "w-dead", 0.05)
    alive = make_run(store, wf)
    assert store.leases.claim(alive.id, "w-alive", 60)
    inline = make_run(store, wf, created_at=utcnow() - timedelta(seconds=120))
    store.runs.transition(inline.id, RunStatus.RUNNING)  # driven inline, no lease: not swept
    done = make_run(store, wf, created_at=utcnow() - timedelta(seconds=120))
    store.runs.transition(done.id, RunStatus.CANCELLED)
    time.sleep(0.1)

    stale = store.leases.stale(grace_s=30)
    assert {lease.run_id for lease in stale} == {old.id, dead.id}
    assert fresh.id not in {lease.run_id for lease in stale}
    by_id = {lease.run_id: lease for lease in stale}
    results = race(*[lambda: store.leases.requeue(by_id[dead.id], 30) for _ in range(4)])
    assert results.count(True) == 1
    lease = store.leases.get(dead.id)
    assert lease.owner == QUEUE_OWNER
    assert store.leases.claim(dead.id, "w-new", 30)  # the queue's lease is free to claim
    assert store.leases.requeue(by_id[old.id], 30)
    assert {lease.run_id for lease in store.leases.stale(grace_s=30)} == set()


def test_wake_ups_are_taken_once(store: Store) -> None:
    run = make_run(store)
    store.runs.transition(run.id, RunStatus.RUNNING)
    store.runs.transition(run.id, RunStatus.WAITING)
    store.leases.set_wake(run.id, utcnow() + timedelta(hours=1))
    assert store.leases.due() == []
    store.leases.set_wake(run.id, utcnow() - timedelta(seconds=1))
    due = store.leases.due()
    assert [d.run_id for d in due] == [run.id]
    assert race(*[lambda: store.leases.take_wake(due[0]) for _ in range(4)]).count(True) == 1
    assert store.leases.due() == []
    assert store.leases.get(run.id).wake_at is None
    assert store.runs.get(run.id).wake_at is None  # one field: the run's


def test_a_taken_wake_can_come_back_later(store: Store) -> None:
    """With ``retry_after_s`` a taken wake moves forward instead of vanishing: if the woken
    run is still waiting then (its task was lost), the sweeper finds it again."""
    run = make_run(store)
    store.runs.transition(run.id, RunStatus.RUNNING)
    at = utcnow() - timedelta(seconds=1)
    store.runs.transition(run.id, RunStatus.WAITING, wake_at=at)  # set with the status
    (lease,) = store.leases.due()
    assert lease.wake_at == at
    assert (
        race(*[lambda: store.leases.take_wake(lease, retry_after_s=0.2) for _ in range(4)]).count(
            True
        )
        == 1
    )
    assert store.leases.due() == []
    later = store.leases.get(run.id).wake_at
    assert later is not None and later > utcnow()
    time.sleep(0.3)
    assert [d.run_id for d in store.leases.due()] == [run.id]
    store.runs.transition(run.id, RunStatus.RUNNING, wake_at=None)
    assert store.leases.due() == []


# --- workers ----------------------------------------------------------------------------------


def test_worker_heartbeats(store: Store) -> None:
    now = utcnow()
    info = WorkerInfo(id="w1", host="h", pid=1, started_at=now, heartbeat_at=now)
    store.workers.beat(info)
    store.workers.beat(info.model_copy(update={"heartbeat_at": utcnow()}))
    old = now - timedelta(minutes=5)
    store.workers.beat(WorkerInfo(id="w2", host="h", pid=2, started_at=old, heartbeat_at=old))
    assert [w.id for w in store.workers.alive(within_s=30)] == ["w1"]
    store.workers.remove("w1")
    assert store.workers.alive(within_s=30) == []
    assert [w.id for w in store.workers.alive(within_s=3600)] == ["w2"]


# --- deliveries -------------------------------------------------------------------------------


def _run(store: Store, wf_id: str, slug: str) -> Run:
    return Run(
        workflow_id=wf_id, workflow_slug=slug, version_number=1, version_hash="h", trigger_id="t"
    )


def test_a_delivery_key_starts_one_run(store: Store) -> None:
    wf = make_workflow(store)
    first, new = store.deliveries.create_run(
        _run(store, wf.id, wf.slug), workflow_id=wf.id, trigger_id="t", key="evt-1", ttl_s=60
    )
    assert new and store.runs.get(first.id).id == first.id
    again, new2 = store.deliveries.create_run(
        _run(store, wf.id, wf.slug), workflow_id=wf.id, trigger_id="t", key="evt-1", ttl_s=60
    )
    assert not new2 and again.id == first.id
    other, new3 = store.deliveries.create_run(
        _run(store, wf.id, wf.slug), workflow_id=wf.id, trigger_id="t2", key="evt-1", ttl_s=60
    )
    assert new3 and other.id != first.id
    assert len(store.runs.list(workflow_id=wf.id)) == 2


def test_a_delivered_run_is_stored_with_its_first_events(store: Store) -> None:
    wf = make_workflow(store)
    run = _run(store, wf.id, wf.slug)
    queued = Event(run_id=run.id, workflow=wf.slug, version=1, type=EventType.RUN_QUEUED)
    delivered: list[list[Event]] = []
    first, new = store.deliveries.create_run(
        run,
        workflow_id=wf.id,
        trigger_id="t",
        key="evt-1",
        ttl_s=60,
        events=[queued],
        on_stored=delivered.append,
    )
    assert new
    logged = store.events.list(first.id)
    assert [(e.seq, e.type) for e in logged] == [(1, EventType.RUN_QUEUED)]
    assert delivered == [logged]
    # a repeated delivery stores no run and no event, and delivers nothing
    again = _run(store, wf.id, wf.slug)
    dup = Event(run_id=again.id, workflow=wf.slug, version=1, type=EventType.RUN_QUEUED)
    same, new2 = store.deliveries.create_run(
        again,
        workflow_id=wf.id,
        trigger_id="t",
        key="evt-1",
        ttl_s=60,
        events=[dup],
        on_stored=delivered.append,
    )
    assert not new2 and same.id == first.id and len(delivered) == 1
    assert len(store.events.list(first.id)) == 1
    with pytest.raises(NotFoundError):
        store.runs.get(again.id)


def test_concurrent_deliveries_of_one_key_start_one_run(store: Store) -> None:
    wf = make_workflow(store)

    def deliver() -> tuple[Run, bool]:
        return store.deliveries.create_run(
            _run(store, wf.id, wf.slug), workflow_id=wf.id, trigger_id="t", key="k", ttl_s=60
        )

    results = race(*[deliver for _ in range(5)])
    assert [r[1] for r in results].count(True) == 1
    assert len({r[0].id for r in results}) == 1
    assert len(store.runs.list(workflow_id=wf.id)) == 1


def test_expired_delivery_keys_start_a_new_run_and_are_purged(store: Store) -> None:
    wf = make_workflow(store)
    first, _ = store.deliveries.create_run(
        _run(store, wf.id, wf.slug), workflow_id=wf.id, trigger_id="t", key="k", ttl_s=0.05
    )
    time.sleep(0.1)
    second, new = store.deliveries.create_run(
        _run(store, wf.id, wf.slug), workflow_id=wf.id, trigger_id="t", key="k", ttl_s=0.05
    )
    assert new and second.id != first.id
    time.sleep(0.1)
    assert store.deliveries.purge() == 1
    assert store.deliveries.purge() == 0


def test_expire_ends_the_leases_of_a_dead_process_only(store: Store) -> None:
    dead, alive_run, other = make_run(store), make_run(store), make_run(store)
    assert store.leases.claim(dead.id, "host-a:41:x1", 60)
    assert store.leases.claim(alive_run.id, "host-a:412:x2", 60)  # pid 412, not 41
    assert store.leases.claim(other.id, "host_a:41:x3", 60)  # "_" is no wildcard
    assert store.leases.expire("") == 0
    assert store.leases.expire("host-a:41:") == 1
    time.sleep(0.01)  # the lease ended "now": a moment later it is stale
    assert [lease.run_id for lease in store.leases.stale(grace_s=30)] == [dead.id]
    assert store.leases.get(alive_run.id).owner == "host-a:412:x2"


def test_stale_without_queued_runs_leaves_out_runs_waiting_for_a_task(store: Store) -> None:
    wf = make_workflow(store)
    old = make_run(store, wf, created_at=utcnow() - timedelta(seconds=120))  # never claimed
    handed = make_run(store, wf, created_at=utcnow() - timedelta(seconds=120))
    (lease,) = [x for x in store.leases.stale(grace_s=30) if x.run_id == handed.id]
    assert store.leases.requeue(lease, 0.05)  # handed to the queue, and that lapses too
    claimed = make_run(store, wf)  # a worker claimed it, then died before it started it
    assert store.leases.claim(claimed.id, "w-dead", 0.05)
    dead = make_run(store, wf)
    store.runs.transition(dead.id, RunStatus.RUNNING)
    assert store.leases.claim(dead.id, "w-dead", 0.05)
    time.sleep(0.1)

    everything = {x.run_id for x in store.leases.stale(grace_s=30)}
    assert everything == {old.id, handed.id, claimed.id, dead.id}
    # the queue has a backlog: queued runs may still have their tasks in it
    assert {x.run_id for x in store.leases.stale(grace_s=30, queued=False)} == {
        claimed.id,
        dead.id,
    }
