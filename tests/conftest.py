"""Shared fixtures: workspaces on the in-memory store, a real SQLite file and PostgreSQL, with the
built-in node types plus a few test node types (real NodeType subclasses, not mocks)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.testnodes import TEST_NODE_TYPES
from workspace.runtime.workspace import Workspace
from workspace.sdk.registry import NodeRegistry
from workspace.settings import Settings
from workspace.store import upgrade_database
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
    return Settings(workspace_dir=tmp_path / "ws")


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
