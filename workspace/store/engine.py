"""Engines, transactions and error translation shared by the SQL store and the checkpointer.

* SQLite: WAL journal, ``synchronous=NORMAL``, a busy timeout and foreign keys are set on every
  new connection. The ``sqlite3`` driver's own (legacy) transaction handling is switched off and
  SQLAlchemy emits ``BEGIN`` itself: ``BEGIN IMMEDIATE`` for write transactions (so a transaction
  that reads then writes takes the write lock up front and never fails to upgrade), plain
  ``BEGIN`` for reads (WAL readers never block). A file database gets a thread-safe
  ``QueuePool`` because the engine runs parallel loop bodies in threads.
* PostgreSQL: ``psycopg`` 3 with a ``QueuePool`` and ``pool_pre_ping`` so a restarted server does
  not leave dead connections behind.
* Every driver failure that means "the database is not usable" (cannot connect, file unreadable,
  server gone, table missing) surfaces as :class:`~workspace.errors.StoreError` with a readable
  message; callers never see a raw driver exception.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

from sqlalchemy import Connection, Engine, Row, Table, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import dml as postgresql_dml
from sqlalchemy.dialects.sqlite import dml as sqlite_dml
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import QueuePool

from workspace.errors import ConfigurationError, StoreError

__all__ = [
    "AnyRow",
    "Database",
    "IntegrityViolation",
    "dialect_insert",
    "make_engine",
    "parse_url",
    "safe_url",
    "sqlite_path",
]

#: A result row of any shape.
AnyRow: TypeAlias = Row[*tuple[Any, ...]]

SQLITE_BUSY_TIMEOUT_MS = 30_000
_WRITE_OPTION = "plait_write"


def parse_url(url: str | URL) -> URL:
    """Parse a SQLAlchemy URL, turning a malformed one into a :class:`ConfigurationError`."""
    if isinstance(url, URL):
        return url
    try:
        return make_url(url)
    except sa_exc.ArgumentError as exc:
        raise ConfigurationError(f"invalid database URL {url!r}: {exc}") from None


def safe_url(url: str | URL) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return parse_url(url).render_as_string(hide_password=True)
    except ConfigurationError:
        return "<invalid url>"


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for other backends. Rejects in-memory databases."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        raise ConfigurationError(
            "an in-memory SQLite database cannot be shared between connections; "
            "use workspace.store.MemoryStore, or a SQLite file URL (sqlite:///path/plait.db)"
        )
    return Path(database)


def make_engine(url: str | URL) -> Engine:
    """Create (but do not connect) an engine tuned for Plait's access pattern."""
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        sqlite_path(parsed)  # rejects :memory:
        engine = create_engine(
            parsed,
            poolclass=QueuePool,
            pool_size=8,
            max_overflow=24,
            pool_timeout=60,
            pool_use_lifo=True,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        _install_sqlite_hooks(engine)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed,
            pool_size=8,
            max_overflow=24,
            pool_timeout=60,
            pool_pre_ping=True,
            pool_recycle=1800,
        )
    raise ConfigurationError(
        f"unsupported database {backend!r} in {safe_url(parsed)}: Plait runs on SQLite "
        "(sqlite:///path/plait.db) or PostgreSQL (postgresql+psycopg://user@host/db)"
    )


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Reads run without BEGIN (each statement sees a consistent snapshot by itself, and a
        # WAL reader never blocks or is blocked). Writes take the write lock up front.
        if conn.get_execution_options().get(_WRITE_OPTION):
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.execute("BEGIN IMMEDIATE")


class IntegrityViolation(StoreError):
    """A constraint rejected a write. Repositories turn the expected ones into
    ``ConflictError`` / ``NotFoundError``; any other one surfaces as this ``StoreError``."""


class Database:
    """One engine plus short-transaction helpers that translate driver errors.

    ``write()``/``read()`` give SQLAlchemy connections; ``raw()`` gives a DBAPI cursor from the
    same pool for hot paths that run pre-written SQL (see :meth:`sql`) without SQLAlchemy's
    per-statement overhead.
    """

    def __init__(self, engine: Engine, *, url: str | URL | None = None) -> None:
        self.engine = engine
        self.url = safe_url(url if url is not None else engine.url)
        self.dialect = engine.dialect.name
        self._writer = engine.execution_options(**{_WRITE_OPTION: True})
        # PostgreSQL reads run in autocommit: no BEGIN/ROLLBACK round trips around a SELECT.
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.dialect == "postgresql"
            else engine
        )
        self._dbapi: Any = engine.dialect.loaded_dbapi
        # SQLite has one writer at a time. Threads of this process queue on a Python lock
        # (woken the moment it is free) instead of SQLite's busy handler, which sleeps and polls;
        # other processes still meet the busy timeout. Re-entrant: a writer may nest.
        self._write_lock: threading.RLock | nullcontext[None] = (
            threading.RLock() if self.dialect == "sqlite" else nullcontext()
        )

    @property
    def write_lock(self) -> threading.RLock | nullcontext[None]:
        """Held around every write of this process on SQLite (a no-op lock on PostgreSQL)."""
        return self._write_lock

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed on success, rolled back on error."""
        with self._write_lock, self.errors(), self._writer.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads (each statement sees committed data; no write lock)."""
        with self.errors(), self._reader.connect() as conn:
            yield conn

    @contextmanager
    def raw(self, *, write: bool) -> Iterator[Any]:
        """A DBAPI cursor on a pooled connection; with ``write`` inside one transaction."""
        with self._write_lock if write else nullcontext(), self.errors():
            conn = self.engine.raw_connection()
            cursor: Any = None
            autocommit = not write and self.dialect == "postgresql"
            try:
                if autocommit:
                    conn.driver_connection.autocommit = True  # type: ignore[union-attr]
                cursor = conn.cursor()
                if write and self.dialect == "sqlite":
                    cursor.execute("BEGIN IMMEDIATE")
                yield cursor
                if write:
                    conn.commit()
            except BaseException as exc:
                if isinstance(exc, self._dbapi.Error) and self.engine.dialect.is_disconnect(
                    exc, conn.dbapi_connection, cursor
                ):
                    conn.invalidate(exc)
                else:
                    with suppress(Exception):
                        conn.rollback()
                raise
            finally:
                if cursor is not None:
                    with suppress(Exception):
                        cursor.close()
                if autocommit and conn.driver_connection is not None:
                    with suppress(Exception):
                        conn.driver_connection.autocommit = False
                conn.close()

    # --- values for raw() statements: what the SQLAlchemy column types would send/return ----

    def json_param(self, value: Any) -> str | None:
        """A JSON column value (``None`` is SQL NULL)."""
        return None if value is None else json.dumps(value, allow_nan=False)

    def json_result(self, value: Any) -> Any:
        """Decode a JSON column read through ``raw()`` (psycopg already decodes them)."""
        return json.loads(value) if isinstance(value, str) and self.dialect == "sqlite" else value

    def time_param(self, value: datetime | None) -> datetime | str | None:
        """A ``UTCDateTime`` column value, stored exactly as SQLAlchemy stores it."""
        if value is None:
            return None
        if value.tzinfo is not UTC:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if self.dialect != "sqlite":
            return value
        # "YYYY-MM-DD HH:MM:SS.ffffff", SQLAlchemy's SQLite text format
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    def sql(self, text: str) -> str:
        """``text`` written with ``:name`` parameters, in this driver's parameter style."""
        if self.dialect == "postgresql":
            return _NAMED_PARAM.sub(r"%(\1)s", text)
        return text

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Translate driver and pool failures into :class:`StoreError`."""
        try:
            yield
        except StoreError:
            raise
        except sa_exc.DBAPIError as exc:
            orig = exc.orig if exc.orig is not None else exc
            raise self._translate(orig, invalidated=exc.connection_invalidated) from exc
        except sa_exc.TimeoutError as exc:
            raise StoreError(
                f"timed out waiting for a database connection ({self.url}): {exc}", url=self.url
            ) from exc
        except Exception as exc:
            if isinstance(exc, self._dbapi.Error):  # raw DBAPI use (raw(), BEGIN IMMEDIATE)
                raise self._translate(exc) from exc
            raise

    def _translate(self, orig: BaseException, *, invalidated: bool = False) -> StoreError:
        lines = str(orig).strip().splitlines()
        reason = lines[0] if lines else type(orig).__name__
        lowered = reason.lower()
        dbapi = self._dbapi
        if isinstance(orig, dbapi.IntegrityError):
            return IntegrityViolation(
                f"database constraint violated ({self.url}): {reason}", url=self.url
            )
        if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
            message = (
                f"the database at {self.url} is missing Plait's tables ({reason}); "
                "run `plait db upgrade` to create or upgrade the schema"
            )
        elif (
            # cannot connect, server gone, file unreadable; a bare DatabaseError is what
            # SQLite raises for a file that is not (or no longer) a database
            isinstance(orig, (dbapi.OperationalError, dbapi.InterfaceError))
            or type(orig) is dbapi.DatabaseError
            or invalidated
        ):
            message = f"the database at {self.url} is not available: {reason}"
        else:
            message = f"database error at {self.url}: {reason}"
        return StoreError(message, url=self.url)

    def dispose(self) -> None:
        self.engine.dispose()


_NAMED_PARAM = re.compile(r"(?<![:\w]):(\w+)")


def dialect_insert(dialect: str, table: Table) -> sqlite_dml.Insert | postgresql_dml.Insert:
    """An INSERT supporting ``ON CONFLICT`` (both SQLite and PostgreSQL have it)."""
    if dialect == "postgresql":
        return postgresql_dml.insert(table)
    return sqlite_dml.insert(table)
