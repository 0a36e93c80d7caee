"""Shared fixtures: workspaces on the in-memory store, a real SQLite file and PostgreSQL, with the
built-in node types plus a few test node types (real NodeType subclasses, not mocks)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.testnodes import TEST_NODE_TYPES
from workspace.queue.memory import MemoryTaskQueue
from workspace.runtime.sweeper import Sweeper
from workspace.runtime.workspace import Workspace
from workspace.sdk.registry import NodeRegistry
from workspace.settings import Settings
from workspace.store import MemoryStore, open_store, upgrade_database
from workspace.store.testing import (
    clear_tables,
    postgres_required,
    postgres_unavailable_reason,
    temporary_postgres_database,
)


@pytest.fixture
def registry() -> NodeRegistry:
    reg = NodeRegistry.discover()
    for t in TEST_NODE_TYPES:
        reg.register(t)
    return reg


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # tests fire due timers themselves (Timers.fire_due) unless they test the inline keeper
    return Settings(workspace_dir=tmp_path / "ws", runtime={"inline_timer_poll_s": 0})


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the session (tables are emptied per test)."""
    reason = postgres_unavailable_reason()
    if reason:
        if postgres_required():
            pytest.fail(reason)
        pytest.skip(reason)
    with temporary_postgres_database(prefix="plait_engine") as url:
        upgrade_database(url)
        yield url


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def ws(
    request: pytest.FixtureRequest, registry: NodeRegistry, settings: Settings, tmp_path: Path
) -> Iterator[Workspace]:
    if request.param == "memory":
        w = Workspace.in_memory(settings=settings, registry=registry)
    elif request.param == "sqlite":
        w = Workspace.open(tmp_path / "ws", settings=settings, registry=registry)
    else:
        w = Workspace.open(request.getfixturevalue("pg_url"), settings=settings, registry=registry)
        clear_tables(w.store.engine)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def mem_ws(registry: NodeRegistry, settings: Settings) -> Iterator[Workspace]:
    w = Workspace.in_memory(settings=settings, registry=registry)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def queued_ws(
    request: pytest.FixtureRequest, registry: NodeRegistry, settings: Settings, tmp_path: Path
) -> Iterator[Workspace]:
    """A workspace whose runs are driven by workers: the in-memory task queue (one worker
    thread, so a parked run visibly frees it) and a sweeper, on each store. Waits and retry
    backoffs over 0.3 s park the run."""
    runtime = settings.runtime.model_copy(
        update={"suspend_after_s": 0.3, "heartbeat_s": 0.2, "sweep_interval_s": 0.1}
    )
    settings = settings.model_copy(update={"runtime": runtime})
    if request.param == "memory":
        store: Any = MemoryStore()
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'queued.db'}"
        upgrade_database(url)
        store = open_store(url)
    else:
        store = open_store(request.getfixturevalue("pg_url"))
        clear_tables(store.engine)
    box: dict[str, Workspace] = {}
    queue = MemoryTaskQueue(lambda task: box["ws"].execute(task), threads=1)
    w = box["ws"] = Workspace(store, settings, registry, queue=queue)
    w.leases.register_worker()  # this process is the worker: runs go through the queue
    sweeper = Sweeper(store, queue, interval_s=0.1, queued_grace_s=30, requeue_ttl_s=5)
    sweeper.start()
    try:
        yield w
    finally:
        sweeper.close()
        w.close()
