"""Redis goes away mid-run and comes back: no run and no step record is lost (SPEC §6: the
database is the source of truth; Redis is the live path)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.runtime.conftest import Service, _free_port, running_service
from tests.runtime.test_service import SLOW, _events, _wait_status
from workspace.errors import ConfigurationError
from workspace.queue.server import EmbeddedRedis

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis we may stop and start (the embedded one, on a fixed port, with its AOF)."""
    server = EmbeddedRedis(tmp_path / "redis", port=_free_port())
    try:
        server.ensure()
    except ConfigurationError as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def service_on(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[Service]:
    url = redis_server.url
    assert url is not None
    with running_service(tmp_path / "ws", url, PLAIT_RUNTIME__QUEUED_GRACE_S="2") as svc:
        yield svc


def test_redis_restarted_mid_run_loses_no_run(
    service_on: Service, redis_server: EmbeddedRedis
) -> None:
    svc = service_on
    svc.worker("w1")
    svc.wait_ready(workers=1)
    with svc.client() as api:
        assert api.post("/api/v1/workflows", json={"dsl": SLOW, "publish": True}).status_code == 201
        first = httpx.post(f"{svc.url}/hooks/slow-chain/trigger_webhook", json={"k": 1})
        assert first.status_code == 202
        run_a = first.json()["run_id"]
        deadline = time.monotonic() + 30
        while ("node_started", "slow") not in [
            (e["type"], e["node_id"]) for e in _events(api, run_a)
        ]:
            assert time.monotonic() < deadline, "the slow step never started"
            time.sleep(0.05)

        redis_server.stop()  # mid-step: the worker finishes `slow` with Redis gone
        # accepted while Redis is down: stored, then sent when the queue is back
        second = httpx.post(f"{svc.url}/hooks/slow-chain/trigger_webhook", json={"k": 2})
        assert second.status_code == 202, second.text
        run_b = second.json()["run_id"]
        # the worker goes on without Redis: the run's truth is in the database
        assert _wait_status(api, run_a, {"succeeded", "failed"}, timeout_s=30)["status"] == (
            "succeeded"
        )
        assert api.get(f"/api/v1/runs/{run_b}").json()["status"] == "queued"
        assert redis_server.ensure()  # back, same address

        for run_id, k in ((run_a, 1), (run_b, 2)):
            run = _wait_status(api, run_id, {"succeeded", "failed"}, timeout_s=60)
            assert run["status"] == "succeeded", run
            assert run["output"] == {"done": k}
            events = _events(api, run_id)
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
            done = [e["node_id"] for e in events if e["type"] == "node_succeeded"]
            assert sorted(done) == ["first", "last", "slow", "trigger_webhook"]
            assert {s["node_id"]: s["status"] for s in run["steps"]} == {
                "trigger_webhook": "succeeded",
                "first": "succeeded",
                "slow": "succeeded",
                "last": "succeeded",
            }

        # the live stream works again for a new run
        third = httpx.post(f"{svc.url}/hooks/slow-chain/trigger_webhook", json={"k": 3})
        headers = {"Accept": "text/event-stream"}
        with api.stream(
            "GET", f"/api/v1/runs/{third.json()['run_id']}/events", headers=headers
        ) as r:
            lines = [line for line in r.iter_lines() if line.startswith("data: ")]
        assert '"run_succeeded"' in lines[-1]
