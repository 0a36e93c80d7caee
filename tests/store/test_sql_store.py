"""What only the SQL store has: engine settings, checkpoints sharing the database, copy_thread."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from sqlalchemy import func, select, text

from tests.store.dbs import fresh_sqlite_url
from workspace.store import SqlCheckpointSaver, open_store
from workspace.store.sql import SqlStore
from workspace.store.tables import checkpoints


@pytest.fixture
def sqlite_store(tmp_path: Path, sqlite_template: Path) -> Iterator[SqlStore]:
    store = open_store(fresh_sqlite_url(sqlite_template, tmp_path))
    try:
        yield store
    finally:
        store.close()


def test_sqlite_connections_use_wal_normal_sync_busy_timeout_and_foreign_keys(
    sqlite_store: SqlStore,
) -> None:
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert int(conn.execute(text("PRAGMA busy_timeout")).scalar() or 0) >= 5000


def test_checkpoints_live_in_the_store_database(sqlite_store: SqlStore) -> None:
    saver = sqlite_store.checkpointer()
    assert isinstance(saver, SqlCheckpointSaver)
    checkpoint = empty_checkpoint()
    saver.put(
        {"configurable": {"thread_id": "t", "checkpoint_ns": ""}},
        checkpoint,
        {"source": "input", "step": -1, "parents": {}},
        {},
    )
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(checkpoints)).scalar() == 1


def test_copy_thread_forks_a_history(sqlite_store: SqlStore) -> None:
    saver = sqlite_store.checkpointer()
    checkpoint = empty_checkpoint()
    version = saver.get_next_version(None, None)
    checkpoint["channel_values"] = {"a": [1, 2]}
    checkpoint["channel_versions"] = {"a": version}
    saved = saver.put(
        {"configurable": {"thread_id": "src", "checkpoint_ns": ""}},
        checkpoint,
        {"source": "input", "step": -1, "parents": {}},
        {"a": version},
    )
    saver.put_writes(saved, [("a", 3)], task_id="t")
    saver.copy_thread("src", "dst")
    copy = saver.get_tuple({"configurable": {"thread_id": "dst"}})
    assert copy is not None
    assert copy.checkpoint["id"] == checkpoint["id"]
    assert copy.checkpoint["channel_values"] == {"a": [1, 2]}
    assert copy.pending_writes == [("t", "a", 3)]
    assert copy.config["configurable"]["thread_id"] == "dst"
    saver.delete_thread("src")
    assert saver.get_tuple({"configurable": {"thread_id": "dst"}}) is not None


def test_importing_the_store_connects_to_nothing_and_loads_no_langgraph() -> None:
    code = (
        "import sys, workspace.store as s; "
        "assert 'langgraph' not in sys.modules, 'langgraph imported'; "
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'; "
        "s.MemoryStore; assert 'langgraph' not in sys.modules; print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_store_repr_hides_password() -> None:
    from workspace.store.engine import Database, make_engine

    db = Database(make_engine("postgresql+psycopg://u:sekrit@127.0.0.1:1/x"))
    try:
        assert "sekrit" not in repr(SqlStore(db))
    finally:
        db.dispose()
