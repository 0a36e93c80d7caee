"""Migrations create exactly the schema ``tables.py`` describes, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, Table, inspect

from workspace.store import HEAD_REVISION, downgrade_database, migrations_dir, upgrade_database
from workspace.store.engine import make_engine
from workspace.store.migrate import current_revision
from workspace.store.tables import metadata
from workspace.store.testing import temporary_postgres_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it (a new SQLite file; a new PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sub' / 'plait.db'}"
        return
    admin = request.getfixturevalue("postgres_admin_url")
    with temporary_postgres_database(admin, prefix="plait_migr") as url:
        yield url


def diff(url: str, target: MetaData = metadata) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, target))
    finally:
        engine.dispose()


def tables_in(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def revision_of(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return current_revision(conn)
    finally:
        engine.dispose()


def test_upgrade_from_empty_creates_every_table(empty_url: str) -> None:
    upgrade_database(empty_url)
    assert tables_in(empty_url) == set(metadata.tables) | {"alembic_version"}
    assert revision_of(empty_url) == HEAD_REVISION
    upgrade_database(empty_url)  # idempotent
    assert revision_of(empty_url) == HEAD_REVISION


def test_processes_upgrading_together_upgrade_once(empty_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def upgrade() -> None:
        barrier.wait()
        try:
            upgrade_database(empty_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upgrade) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert revision_of(empty_url) == HEAD_REVISION
    assert diff(empty_url) == []


def test_migrated_schema_matches_tables_py(empty_url: str) -> None:
    upgrade_database(empty_url)
    assert diff(empty_url) == []


def test_drift_test_would_notice_a_difference(empty_url: str) -> None:
    upgrade_database(empty_url)
    changed = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    Table("surprise", changed, Column("id", Integer, primary_key=True))
    changed.tables["runs"].append_column(Column("extra", Integer, nullable=True))
    found = diff(empty_url, changed)
    kinds = {entry[0] for entry in found if isinstance(entry, tuple)}
    assert {"add_table", "add_column"} <= kinds, found


def test_downgrade_to_base_removes_everything(empty_url: str) -> None:
    upgrade_database(empty_url)
    downgrade_database(empty_url, "base")
    assert tables_in(empty_url) <= {"alembic_version"}
    assert revision_of(empty_url) is None
    upgrade_database(empty_url)  # and back up again
    assert diff(empty_url) == []


def test_head_revision_constant_matches_the_scripts() -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD_REVISION]


def test_migrations_are_found_in_the_top_level_folder() -> None:
    repo_root = Path(__file__).resolve().parents[2]
    assert migrations_dir().resolve() == (repo_root / "migrations").resolve()
    assert (migrations_dir() / "env.py").is_file()


def test_migrations_dir_can_be_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text("")
    monkeypatch.setenv("PLAIT_MIGRATIONS_DIR", str(tmp_path))
    assert migrations_dir() == tmp_path
