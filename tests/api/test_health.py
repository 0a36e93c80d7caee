"""``/healthz`` and ``/readyz``: public, no API key."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from workspace.api.app import create_app
from workspace.domain.operations import WorkerInfo
from workspace.queue.testing import redis_required, redis_test_url, redis_unavailable_reason
from workspace.runtime.workspace import Workspace
from workspace.settings import load_settings


def test_healthz(client: TestClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}


def test_readyz_on_the_inline_workspace(client: TestClient, ws: Workspace) -> None:
    assert ws.queue is None
    resp = client.get("/readyz")
    assert resp.status_code == 200
    body = resp.json()
    assert body["ready"] is True
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["redis"]["ok"] is True
    assert "inline" in body["checks"]["redis"]["mode"]
    assert "workers" not in body["checks"]


def test_readyz_reports_a_broken_database(client: TestClient, ws: Workspace) -> None:
    db = ws.settings.workspace_dir / "plait.db"
    ws.store.close()  # drop pooled connections to the file
    db.rename(db.with_suffix(".gone"))  # the next connection finds an empty database
    resp = client.get("/readyz")
    assert resp.status_code == 503
    body = resp.json()
    assert body["ready"] is False and body["checks"]["database"]["ok"] is False


@pytest.fixture
def queued_ws(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace with a task queue on the test Redis (nothing is sent to it here)."""
    url = redis_test_url()
    reason = redis_unavailable_reason(url)
    if reason:
        if redis_required():
            pytest.fail(reason)
        pytest.skip(reason)
    w = Workspace.open(tmp_path / "queued", settings=load_settings(), redis_url=url)
    try:
        yield w
    finally:
        w.close()


def test_readyz_with_a_queue_needs_a_live_worker(queued_ws: Workspace) -> None:
    with TestClient(create_app(queued_ws)) as client:
        resp = client.get("/readyz")
        assert resp.status_code == 503
        checks = resp.json()["checks"]
        assert checks["database"]["ok"] and checks["redis"] == {"ok": True}
        assert checks["workers"] == {"ok": False, "count": 0}
        now = datetime.now(UTC)
        queued_ws.store.workers.beat(
            WorkerInfo(id="w1", host="here", pid=os.getpid(), started_at=now, heartbeat_at=now)
        )
        resp = client.get("/readyz")
        assert resp.status_code == 200, resp.text
        assert resp.json()["checks"]["workers"] == {"ok": True, "count": 1}
