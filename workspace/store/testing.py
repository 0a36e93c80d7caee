"""Helpers for tests that need a real database (used by Plait's own suites; importable by any).

``PLAIT_TEST_POSTGRES_URL`` names a PostgreSQL server and an existing database to connect to as
an administrator (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
:func:`temporary_postgres_database` creates a uniquely named, empty database next to it and
drops it afterwards, so suites running in parallel never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import NullPool

from workspace.store.engine import parse_url
from workspace.store.tables import metadata

__all__ = [
    "DEFAULT_TEST_POSTGRES_URL",
    "clear_tables",
    "postgres_required",
    "postgres_test_url",
    "postgres_unavailable_reason",
    "temporary_postgres_database",
]

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_test_url() -> str:
    return os.environ.get("PLAIT_TEST_POSTGRES_URL") or DEFAULT_TEST_POSTGRES_URL


def postgres_required() -> bool:
    """True when an unreachable PostgreSQL must fail the tests instead of skipping them (CI)."""
    return os.environ.get("PLAIT_REQUIRE_POSTGRES", "").strip().lower() not in ("", "0", "false")


def _admin_engine(admin_url: str | URL) -> Engine:
    url = parse_url(admin_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )


def postgres_unavailable_reason(admin_url: str | None = None) -> str | None:
    """None if the server answers, else why not."""
    url = admin_url or postgres_test_url()
    engine = _admin_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        first = str(exc).strip().splitlines()
        return f"PostgreSQL at {parse_url(url).render_as_string()} is unreachable: " + (
            first[0] if first else type(exc).__name__
        )
    finally:
        engine.dispose()
    return None


@contextmanager
def temporary_postgres_database(
    admin_url: str | None = None, *, prefix: str = "plait_test"
) -> Iterator[str]:
    """Create an empty database with a unique name; yield its URL; drop it afterwards."""
    base = parse_url(admin_url or postgres_test_url())
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    engine = _admin_engine(base)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def clear_tables(engine: Engine) -> None:
    """Delete every row of Plait's tables (keeps the schema and its revision)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names}"))
        else:
            for table in reversed(metadata.sorted_tables):
                conn.execute(delete(table))
