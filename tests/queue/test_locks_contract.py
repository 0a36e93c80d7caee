"""The Locks contract, on MemoryLocks and RedisLocks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from workspace.queue.ports import Locks


def test_acquire_and_release(locks: Locks) -> None:
    assert locks.owner("leader") is None
    assert locks.acquire("leader", "a", 5_000)
    assert locks.owner("leader") == "a"
    assert not locks.acquire("leader", "b", 5_000)
    assert not locks.acquire("leader", "a", 5_000)  # not re-entrant
    assert not locks.release("leader", "b")
    assert locks.owner("leader") == "a"
    assert locks.release("leader", "a")
    assert locks.owner("leader") is None
    assert not locks.release("leader", "a")
    assert locks.acquire("leader", "b", 5_000)


def test_locks_are_independent(locks: Locks) -> None:
    assert locks.acquire("x", "a", 5_000)
    assert locks.acquire("y", "b", 5_000)
    assert (locks.owner("x"), locks.owner("y")) == ("a", "b")


def test_a_lease_expires(locks: Locks) -> None:
    assert locks.acquire("leader", "a", 100)
    time.sleep(0.2)
    assert locks.owner("leader") is None
    assert not locks.renew("leader", "a", 5_000)
    assert not locks.release("leader", "a")
    assert locks.acquire("leader", "b", 5_000)
    assert not locks.release("leader", "a")
    assert locks.owner("leader") == "b"


def test_renew_extends_only_the_owners_lease(locks: Locks) -> None:
    assert locks.acquire("leader", "a", 300)
    assert not locks.renew("leader", "b", 5_000)
    time.sleep(0.15)
    assert locks.renew("leader", "a", 1_000)
    time.sleep(0.3)  # past the first lease's end
    assert locks.owner("leader") == "a"
    assert not locks.renew("nothing", "a", 1_000)


def test_claim_once(locks: Locks) -> None:
    assert locks.claim_once("hook:evt-1", 5_000)
    assert not locks.claim_once("hook:evt-1", 5_000)
    assert locks.claim_once("hook:evt-2", 5_000)


def test_a_claim_expires(locks: Locks) -> None:
    assert locks.claim_once("k", 100)
    time.sleep(0.2)
    assert locks.claim_once("k", 100)


def race(n: int, attempt: Callable[[int], bool]) -> list[bool]:
    barrier = threading.Barrier(n)
    results: list[bool] = [False] * n

    def run(i: int) -> None:
        barrier.wait()
        results[i] = attempt(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_one_winner_among_racing_acquirers(locks: Locks) -> None:
    results = race(8, lambda i: locks.acquire("leader", f"owner-{i}", 5_000))
    assert results.count(True) == 1
    assert locks.owner("leader") == f"owner-{results.index(True)}"


def test_one_winner_among_racing_claims(locks: Locks) -> None:
    assert race(8, lambda i: locks.claim_once("same", 5_000)).count(True) == 1
