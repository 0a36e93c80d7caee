"""Opening the wrong database, or losing it, gives clear Plait errors, never driver tracebacks."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.store.dbs import fresh_sqlite_url
from workspace.domain.workflow import Workflow
from workspace.errors import ConfigurationError, StoreError
from workspace.store import downgrade_database, open_store, upgrade_database
from workspace.store.engine import make_engine
from workspace.store.testing import temporary_postgres_database


def test_missing_sqlite_file_asks_for_upgrade_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "plait.db"
    with pytest.raises(ConfigurationError, match="plait db upgrade"):
        open_store(f"sqlite:///{path}")
    assert not path.exists()


def test_empty_sqlite_database_asks_for_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "plait.db"
    sqlite3.connect(path).close()
    with pytest.raises(ConfigurationError, match="plait db upgrade") as info:
        open_store(f"sqlite:///{path}")
    assert info.value.code == "configuration_error"


def test_database_at_an_older_revision_asks_for_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plait.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    with pytest.raises(ConfigurationError, match=r"'0000'.*plait db upgrade"):
        open_store(url)
    store = open_store(url, check=False)  # tools may still look at it
    store.close()


def test_downgraded_database_asks_for_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plait.db'}"
    upgrade_database(url)
    downgrade_database(url)
    with pytest.raises(ConfigurationError, match="plait db upgrade"):
        open_store(url)


@pytest.mark.postgres
def test_postgres_database_without_schema_asks_for_upgrade(postgres_admin_url: str) -> None:
    with (
        temporary_postgres_database(postgres_admin_url, prefix="plait_noschema") as url,
        pytest.raises(ConfigurationError, match="plait db upgrade"),
    ):
        open_store(url)


def test_unsupported_or_malformed_urls_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unsupported database"):
        open_store("mysql://u@localhost/db")
    with pytest.raises(ConfigurationError, match="invalid database URL"):
        open_store("not a url at all")
    with pytest.raises(ConfigurationError, match="MemoryStore"):
        open_store("sqlite://")
    with pytest.raises(ConfigurationError, match="MemoryStore"):
        upgrade_database("sqlite:///:memory:")


def test_unreadable_sqlite_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "plait.db"
    path.write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(StoreError, match="not available: file is not a database") as info:
        open_store(f"sqlite:///{path}")
    assert str(path) in str(info.value)
    assert info.value.code == "store_error"


def test_sqlite_in_a_folder_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the folder"):
        upgrade_database(f"sqlite:///{blocker / 'sub' / 'plait.db'}")


def test_sqlite_path_that_cannot_be_opened_is_a_store_error(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(StoreError, match="not available: unable to open database file"):
        open_store(f"sqlite:///{folder}")


def test_sqlite_database_deleted_underneath_is_a_store_error(
    tmp_path: Path, sqlite_template: Path
) -> None:
    url = fresh_sqlite_url(sqlite_template, tmp_path)
    store = open_store(url)
    try:
        store.workflows.create(Workflow(slug="before", name="B"))
        store.engine.dispose()  # drop pooled connections, then lose the whole folder
        for name in os.listdir(tmp_path):
            os.remove(tmp_path / name)
        tmp_path.rmdir()
        with pytest.raises(StoreError) as info:
            store.workflows.get("before")
        assert "plait" in str(info.value)
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_database_dropped_underneath_is_a_store_error(postgres_admin_url: str) -> None:
    with temporary_postgres_database(postgres_admin_url, prefix="plait_gone") as url:
        upgrade_database(url)
        store = open_store(url)
        store.workflows.create(Workflow(slug="before", name="B"))
    # the database is dropped now (WITH FORCE closed our connections)
    try:
        with pytest.raises(StoreError, match="not available") as info:
            store.workflows.get("before")
        assert "postgresql" in str(info.value)
        assert "plait_gone" in str(info.value)
        with pytest.raises(StoreError):
            store.runs.list()
    finally:
        store.close()


@pytest.mark.postgres
def test_unreachable_postgres_server_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="not available"):
        open_store("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")


def test_passwords_are_not_shown_in_errors() -> None:
    with pytest.raises(StoreError) as info:
        open_store("postgresql+psycopg://u:sekrit@127.0.0.1:1/none?connect_timeout=2")
    assert "sekrit" not in str(info.value)
    assert "sekrit" not in repr(info.value.details)
