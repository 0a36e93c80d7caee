"""Fixtures of the HTTP API tests: a real workspace on SQLite in ``tmp_path`` (runs driven by
in-process threads, no queue), the FastAPI app over it, and three users with API keys."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from workspace.api.app import create_app
from workspace.domain.access import ApiKey, Role, User, new_api_key
from workspace.runtime.workspace import Workspace
from workspace.sdk.registry import NodeRegistry
from workspace.settings import load_settings

#: webhook secrets by name, as the server knows them
SECRETS = {"hook-token": "t0ken-s3cret", "hook-hmac": "hm4c-s3cret"}
MAX_PAGE = 25
MAX_BODY = 4096


@dataclass
class Caller:
    user: User
    key: ApiKey
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


@dataclass
class Callers:
    admin: Caller
    alice: Caller
    bob: Caller


@pytest.fixture
def ws(tmp_path: Path, registry: NodeRegistry) -> Iterator[Workspace]:
    settings = load_settings(
        runtime={
            "webhook_secrets": SECRETS,
            "max_page_size": MAX_PAGE,
            "webhook_max_body_bytes": MAX_BODY,
            "webhook_sync_timeout_s": 10.0,
        }
    )
    w = Workspace.open(tmp_path / "ws", settings=settings, registry=registry, inline=True)
    try:
        yield w
    finally:
        _join_run_threads()
        w.close()


def _join_run_threads(timeout_s: float = 15.0) -> None:
    """Runs are driven by daemon threads: let them finish before the store closes."""
    for t in threading.enumerate():
        if t.name.startswith("plait-run-"):
            t.join(timeout_s)


def make_caller(ws: Workspace, name: str, role: Role) -> Caller:
    user = ws.store.access.create_user(User(name=name, role=role))
    key, secret = new_api_key(user.id, f"{name}'s key")
    ws.store.access.add_key(key)
    return Caller(user, key, secret)


@pytest.fixture
def callers(ws: Workspace) -> Callers:
    return Callers(
        admin=make_caller(ws, "root", Role.ADMIN),
        alice=make_caller(ws, "alice", Role.MEMBER),
        bob=make_caller(ws, "bob", Role.MEMBER),
    )


@pytest.fixture
def client(ws: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(ws)) as c:
        yield c
