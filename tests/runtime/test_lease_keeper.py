"""``LeaseKeeper``: one driver per run inside a process. The store's lease belongs to the
process (its claim is re-entrant for the owner), so the keeper itself must stop a second thread
from driving a run at once, and must not let the first thread's ``drop`` release the lease a
second thread took right after it (an answer arriving just as the run parked)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from tests.contracts.storekit import make_run
from workspace.domain.run import RunStatus
from workspace.runtime.leases import LeaseKeeper
from workspace.store import MemoryStore


def keeper(store: MemoryStore) -> LeaseKeeper:
    return LeaseKeeper(store, "host:1:abc", ttl_s=30, interval_s=60)


def test_a_second_thread_waits_for_the_driver_and_keeps_the_lease() -> None:
    store = MemoryStore()
    run = make_run(store)
    leases = keeper(store)
    assert leases.hold(run.id)
    second: list[bool] = []
    waiter = threading.Thread(target=lambda: second.append(leases.hold(run.id)))
    waiter.start()
    time.sleep(0.2)
    assert second == []  # waits while the first thread drives
    leases.drop(run.id)  # the first driver finishes ...
    waiter.join(5)
    assert second == [True]
    assert store.leases.get(run.id).owner == leases.owner  # ... and did not free the lease
    assert leases.held == {run.id}
    leases.drop(run.id)
    assert store.leases.get(run.id).owner is None
    assert leases.held == set()


def test_a_duplicate_task_gives_up_while_the_run_is_driven() -> None:
    store = MemoryStore()
    run = make_run(store)
    leases = keeper(store)
    assert leases.hold(run.id)
    assert not leases.hold(run.id, wait_s=0.1)
    assert store.leases.get(run.id).owner == leases.owner
    leases.drop(run.id)
    assert leases.hold(run.id, wait_s=0.1)  # and nothing is left stuck behind
    leases.drop(run.id)


def test_another_owner_still_cannot_take_it() -> None:
    store = MemoryStore()
    run = make_run(store)
    first, other = keeper(store), LeaseKeeper(store, "host:2:def", ttl_s=30, interval_s=60)
    assert first.hold(run.id)
    assert not other.hold(run.id)
    first.drop(run.id)
    assert other.hold(run.id)
    other.drop(run.id)


def test_a_finished_run_stops_quietly_and_needs_no_release(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The terminal status write drops the lease. A heartbeat before the driver lets go tells
    it to stop (the run may have been finished by a worker that took it over while this one
    stalled) without a "lost" warning, and ``drop(released=True)`` writes nothing."""
    store = MemoryStore()
    run = make_run(store)
    lost: list[str] = []
    leases = LeaseKeeper(store, "host:1:abc", ttl_s=30, interval_s=60, on_lost=lost.append)
    assert leases.hold(run.id)
    store.runs.transition(run.id, RunStatus.RUNNING)
    store.runs.transition(run.id, RunStatus.SUCCEEDED)
    with caplog.at_level(logging.DEBUG, logger="workspace.runtime.leases"):
        leases.beat()
    assert lost == [run.id]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    writes: list[str] = []
    store.leases.release = lambda run_id, owner: writes.append(run_id)  # type: ignore[method-assign]
    leases.drop(run.id, released=True)
    assert writes == [] and leases.held == set()
    assert leases.hold(run.id, wait_s=0.1) is False  # finished: nobody can claim it


def test_a_run_taken_over_by_another_owner_is_reported_lost() -> None:
    store = MemoryStore()
    run = make_run(store)
    lost: list[str] = []
    leases = LeaseKeeper(store, "host:1:abc", ttl_s=0.05, interval_s=60, on_lost=lost.append)
    assert leases.hold(run.id)
    time.sleep(0.1)
    assert store.leases.claim(run.id, "host:2:def", 30)  # ours expired: the sweeper moved it
    leases.beat()
    assert lost == [run.id] and leases.held == set()
