"""Schema migrations (Alembic), run programmatically: no ``alembic.ini`` needed on disk.

Where the migration scripts are: the top-level ``migrations/`` folder of the repository is the one
source. ``workspace/store/migrations`` is a symbolic link to it, so

* in a source checkout or an editable install the link (or, if the link was lost, the repository
  root found next to the ``workspace`` package) leads to ``migrations/``;
* a wheel built by setuptools follows the link and ships the scripts as real files inside
  ``workspace/store/migrations/``.

``PLAIT_MIGRATIONS_DIR`` overrides both (for packagers and tests).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import URL

from workspace.errors import ConfigurationError, StoreError
from workspace.store.engine import Database, make_engine, parse_url, sqlite_path

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD_REVISION",
    "current_revision",
    "downgrade_database",
    "migrations_dir",
    "upgrade_database",
]

#: The newest revision in ``migrations/versions``; a test keeps it equal to Alembic's head.
#: ``open_store`` compares the database against it without loading the migration scripts.
HEAD_REVISION = "0005"

_VERSION_TABLE = "alembic_version"
#: pg_advisory_xact_lock key serialising schema changes ("plait" in ASCII)
_LOCK_KEY = 0x706C616974
_UPGRADE_HINT = "run `plait db upgrade` (or workspace.store.upgrade_database(url))"


def migrations_dir() -> Path:
    """The folder holding ``env.py`` and ``versions/``."""
    candidates: list[Path] = []
    override = os.environ.get("PLAIT_MIGRATIONS_DIR")
    if override:
        candidates.append(Path(override))
    here = Path(__file__).resolve().parent
    candidates.append(here / "migrations")  # symlink in a checkout, real folder in a wheel
    candidates.append(here.parents[1] / "migrations")  # repository root
    for candidate in candidates:
        if (candidate / "env.py").is_file() and (candidate / "versions").is_dir():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise ConfigurationError(f"Plait's database migrations are missing (looked in {tried})")


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["connection"] = connection
    return config


def _run(url: str | URL, action: str, revision: str) -> None:
    parsed = parse_url(url)
    path = sqlite_path(parsed)
    if path is not None and action == "upgrade":
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder for the SQLite database {path}: {exc}", url=str(path)
            ) from exc
    # SQLite: a lock file next to the database serialises upgraders (threads and processes)
    # before any connection is opened, so none meets a half-switched journal or a long DDL
    # transaction as "database is locked".
    with _file_lock(path):
        _migrate(parsed, action, revision)


@contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    with open(f"{path}.migrate-lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _migrate(parsed: URL, action: str, revision: str) -> None:
    db = Database(make_engine(parsed), url=parsed)
    try:
        # One transaction: on SQLite BEGIN IMMEDIATE, on PostgreSQL an advisory lock, so
        # processes starting together (API, workers) upgrade once and the others wait.
        with db.write() as conn:
            if db.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            current = current_revision(conn)
            if (
                action == "upgrade"
                and revision in ("head", HEAD_REVISION)
                and (current == HEAD_REVISION)
            ):
                return  # already current: skip loading Alembic and the migration scripts
            from alembic import command

            config = _alembic_config(conn)
            if action == "upgrade":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
    finally:
        db.dispose()


def upgrade_database(url: str | URL, revision: str = "head") -> None:
    """Create or upgrade Plait's schema in the database at ``url`` (an empty one is fine)."""
    _run(url, "upgrade", revision)


def downgrade_database(url: str | URL, revision: str = "base") -> None:
    """Downgrade the schema; ``base`` drops every Plait table."""
    _run(url, "downgrade", revision)


def current_revision(connection: Connection) -> str | None:
    """The schema revision recorded in the database, or None if it has none."""
    if not inspect(connection).has_table(_VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars().all()
    return str(rows[0]) if len(rows) == 1 else None


def check_schema(db: Database) -> None:
    """Raise ConfigurationError unless the database is at :data:`HEAD_REVISION`."""
    path = sqlite_path(db.engine.url)
    if path is not None and not path.exists():
        # do not create an empty file just to find it empty
        raise ConfigurationError(
            f"no Plait database at {path}; {_UPGRADE_HINT} to create it", url=db.url
        )
    with db.read() as conn:
        revision = current_revision(conn)
    if revision == HEAD_REVISION:
        return
    if revision is None:
        raise ConfigurationError(
            f"the database at {db.url} has no Plait schema; {_UPGRADE_HINT}", url=db.url
        )
    raise ConfigurationError(
        f"the database at {db.url} is at schema revision {revision!r} but this Plait needs "
        f"{HEAD_REVISION!r}; {_UPGRADE_HINT} (if the database is newer, upgrade Plait instead)",
        url=db.url,
        revision=revision,
        expected=HEAD_REVISION,
    )
