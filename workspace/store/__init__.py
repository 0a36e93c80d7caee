"""Persistence of Plait: workflows, versions, runs, steps, events, journal and LangGraph
checkpoints, on SQLite or PostgreSQL (``SqlStore``) or in memory (``MemoryStore``).

Importing this package does nothing but import code: no engine, no connection, no tables.
The schema is created and upgraded only by Alembic migrations (:func:`upgrade_database`,
``plait db upgrade``). See README.md in this folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "HEAD_REVISION",
    "MemoryStore",
    "SqlCheckpointSaver",
    "SqlStore",
    "downgrade_database",
    "migrations_dir",
    "open_store",
    "upgrade_database",
]

if TYPE_CHECKING:
    from workspace.store.checkpointer import SqlCheckpointSaver
    from workspace.store.memory import MemoryStore
    from workspace.store.migrate import (
        HEAD_REVISION,
        downgrade_database,
        migrations_dir,
        upgrade_database,
    )
    from workspace.store.sql import SqlStore, open_store

_LAZY = {
    "HEAD_REVISION": "workspace.store.migrate",
    "MemoryStore": "workspace.store.memory",
    "SqlCheckpointSaver": "workspace.store.checkpointer",
    "SqlStore": "workspace.store.sql",
    "downgrade_database": "workspace.store.migrate",
    "migrations_dir": "workspace.store.migrate",
    "open_store": "workspace.store.sql",
    "upgrade_database": "workspace.store.migrate",
}


def __getattr__(name: str) -> Any:
    # Imported on first use so ``import workspace.store`` stays cheap (no LangGraph import
    # unless the checkpointer is asked for).
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workspace.store' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
