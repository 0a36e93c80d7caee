"""Alembic environment for Plait's schema.

Normally run through ``workspace.store.upgrade_database(url)`` / ``plait db upgrade``, which hands
an open connection in ``config.attributes["connection"]``. Running the ``alembic`` command directly
also works: the database URL comes from ``sqlalchemy.url`` in the ini file or from
``PLAIT_DATABASE_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from workspace.store.engine import make_engine
from workspace.store.tables import metadata

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("PLAIT_DATABASE_URL")
    if not url:
        raise RuntimeError("set sqlalchemy.url or PLAIT_DATABASE_URL to run migrations")
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _configure(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as conn:
            _configure(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
