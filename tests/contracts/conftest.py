"""Fixtures of the contract suites: ``store`` runs each test on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.dbs import fresh_sqlite_url, postgres_admin_url, postgres_url, sqlite_template
from workspace.domain.ports import Store
from workspace.store import MemoryStore, open_store
from workspace.store.testing import clear_tables

__all__ = ["postgres_admin_url", "postgres_url", "sqlite_template"]

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "sqlite":
        url = fresh_sqlite_url(request.getfixturevalue("sqlite_template"), tmp_path)
        sql = open_store(url)
    else:
        sql = open_store(request.getfixturevalue("postgres_url"))
        clear_tables(sql.engine)
    try:
        yield sql
    finally:
        sql.close()
