"""Database fixtures shared by ``tests/store`` and ``tests/contracts`` (their conftests import
them).

* ``postgres_admin_url``: the server from ``PLAIT_TEST_POSTGRES_URL``; skips when unreachable
  unless ``PLAIT_REQUIRE_POSTGRES`` is set (CI), then fails.
* ``postgres_url``: a fresh, uniquely named database per test session, upgraded to head,
  dropped at the end. Tests get it empty through ``clear_tables``.
* ``sqlite_template``: one upgraded SQLite file per session; each test copies it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from workspace.store import upgrade_database
from workspace.store.testing import (
    postgres_required,
    postgres_unavailable_reason,
    temporary_postgres_database,
)

__all__ = ["fresh_sqlite_url", "postgres_admin_url", "postgres_url", "sqlite_template"]


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    from workspace.store.testing import postgres_test_url

    reason = postgres_unavailable_reason()
    if reason is not None:
        if postgres_required():
            pytest.fail(f"{reason} (PLAIT_REQUIRE_POSTGRES is set)")
        pytest.skip(reason)
    return postgres_test_url()


@pytest.fixture(scope="session")
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    with temporary_postgres_database(postgres_admin_url) as url:
        upgrade_database(url)
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "plait.db"
    upgrade_database(f"sqlite:///{path}")
    return path


def fresh_sqlite_url(template: Path, folder: Path) -> str:
    """A copy of the upgraded template in ``folder``."""
    target = folder / "plait.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"
