"""``SqlStore``: the ``Store`` port on one SQLAlchemy engine (SQLite or PostgreSQL)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL

from workspace.errors import StoreError
from workspace.store.engine import Database, make_engine, parse_url
from workspace.store.migrate import check_schema
from workspace.store.sql_access import SqlAccessRepository
from workspace.store.sql_credentials import SqlCredentialRepository
from workspace.store.sql_deliveries import SqlDeliveryRepository
from workspace.store.sql_events import SqlEventLog
from workspace.store.sql_leases import SqlLeaseRepository, SqlWorkerRegistry
from workspace.store.sql_memories import SqlMemoryRepository
from workspace.store.sql_runs import SqlRunRepository
from workspace.store.sql_schedules import SqlScheduleRepository
from workspace.store.sql_workflows import SqlWorkflowRepository

if TYPE_CHECKING:
    from workspace.store.checkpointer import SqlCheckpointSaver

__all__ = ["SqlStore", "open_store"]


log = logging.getLogger(__name__)


class SqlStore:
    """Repositories, event log and LangGraph checkpointer sharing one engine and pool."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.engine = db.engine
        self.url = db.url
        self.workflows = SqlWorkflowRepository(db)
        self.runs = SqlRunRepository(db)
        self.events = SqlEventLog(db)
        self.access = SqlAccessRepository(db)
        self.leases = SqlLeaseRepository(db)
        self.workers = SqlWorkerRegistry(db)
        self.deliveries = SqlDeliveryRepository(db, self.runs, self.events)
        self.credentials = SqlCredentialRepository(db)
        self.schedules = SqlScheduleRepository(db, self.runs)
        self.memory = SqlMemoryRepository(db)
        self._saver: SqlCheckpointSaver | None = None
        self._lock = threading.Lock()

    def checkpointer(self) -> SqlCheckpointSaver:
        """The store's ``SqlCheckpointSaver`` (one per store, on the same engine)."""
        with self._lock:
            if self._saver is None:
                from workspace.store.checkpointer import SqlCheckpointSaver

                self._saver = SqlCheckpointSaver(self.db, events=self.events)
            return self._saver

    def close(self) -> None:
        """Store the checkpoint writes still held back, then close every pooled connection.
        The store must not be used afterwards."""
        if self._saver is not None:
            try:
                self._saver.flush_writes()
            except StoreError as exc:
                log.warning("closing the store: checkpoint writes not stored: %s", exc)
        self.db.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlStore({self.url!r})"


def open_store(url: str | URL, *, check: bool = True) -> SqlStore:
    """Open the database at ``url``; it must already be at the current schema revision.

    Raises ``ConfigurationError`` (run ``plait db upgrade``) if it is not, ``StoreError`` if it
    cannot be reached. Never creates or changes tables. ``check=False`` skips the revision check
    (for tools that inspect an old database).
    """
    parsed = parse_url(url)
    db = Database(make_engine(parsed), url=parsed)
    if check:
        try:
            check_schema(db)
        except BaseException:
            db.dispose()
            raise
    return SqlStore(db)


if TYPE_CHECKING:
    from workspace.domain.ports import Store

    def _conforms(store: SqlStore) -> Store:  # mypy proves SqlStore implements the port
        return store
