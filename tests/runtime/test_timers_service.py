"""Durable timers for real: ``plait api`` + ONE ``plait worker`` subprocess with ONE thread on
real Redis. A run waiting a few seconds frees that thread (another run completes meanwhile)
and completes after the sweeper's wake; a human step with ``timeout_s: 2`` times out to
``reject``."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.runtime.conftest import Service

pytestmark = pytest.mark.timeout(180)

WAITS = """
name: Waits
slug: waits
trigger: manual
steps:
  - {id: pause, type: wait, duration: 4, unit: seconds}
  - {id: after, type: transform, template: "woke {{ trigger.n }}"}
"""

QUICK = """
name: Quick
slug: quick
trigger: manual
steps:
  - {id: only, type: transform, template: "quick {{ trigger.n }}"}
"""

TIMED = """
name: Timed approval
slug: timed
flow: explicit
trigger: manual
steps:
  - {id: ask, type: human, message: "Ship?", timeout_s: 2, on_timeout: reject}
  - {id: ship, type: transform, template: shipped}
  - {id: hold, type: transform, template: held}
edges:
  - {from: trigger_manual, to: ask}
  - {from: ask, to: ship, route: approved}
  - {from: ask, to: hold, route: rejected}
"""


def _start(api: httpx.Client, slug: str, payload: Any = None) -> str:
    r = api.post(f"/api/v1/workflows/{slug}/runs", json={"input": payload})
    assert r.status_code == 202, r.text
    return str(r.json()["run_id"])


def _wait(api: httpx.Client, run_id: str, statuses: set[str], timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = api.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] in statuses:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} still {run.get('status')} after {timeout_s} s: {run}")


def _publish(api: httpx.Client, dsl: str) -> None:
    r = api.post("/api/v1/workflows", json={"dsl": dsl, "publish": True})
    assert r.status_code == 201, r.text


def test_a_wait_frees_the_only_worker_thread_and_completes_after_the_wake(
    service: Service,
) -> None:
    service.spawn("w1", "worker", "--threads", "1")
    service.wait_ready(workers=1)
    with service.client() as api:
        _publish(api, WAITS)
        _publish(api, QUICK)
        started = time.monotonic()
        waiting_id = _start(api, "waits", {"n": 1})
        waiting = _wait(api, waiting_id, {"waiting", "succeeded", "failed"}, timeout_s=30)
        assert waiting["status"] == "waiting", waiting
        (timer,) = waiting["pending"]["timers"]
        assert timer["node_id"] == "pause" and timer["reason"] == "wait"
        assert datetime.fromisoformat(waiting["wake_at"]) == datetime.fromisoformat(timer["until"])

        # the single worker thread is free: a second run completes while the first waits
        quick_id = _start(api, "quick", {"n": 2})
        quick = _wait(api, quick_id, {"succeeded", "failed"}, timeout_s=30)
        assert quick["status"] == "succeeded" and quick["output"] == {"output": "quick 2"}
        assert api.get(f"/api/v1/runs/{waiting_id}").json()["status"] == "waiting"

        done = _wait(api, waiting_id, {"succeeded", "failed"}, timeout_s=60)
        took = time.monotonic() - started
        assert done["status"] == "succeeded", done
        assert done["output"] == {"output": "woke 1"}
        assert took >= 4
        events = api.get(f"/api/v1/runs/{waiting_id}/events").json()["items"]
        types = [(e["type"], e["node_id"]) for e in events]
        assert types.count(("node_succeeded", "pause")) == 1
        assert ("node_waiting", "pause") in types and ("run_resumed", None) in types
        print(f"wait of 4 s completed after {took:.1f} s")


def test_a_human_timeout_rejects_over_real_workers(service: Service) -> None:
    service.spawn("w1", "worker", "--threads", "1")
    service.wait_ready(workers=1)
    with service.client() as api:
        _publish(api, TIMED)
        run_id = _start(api, "timed")
        waiting = _wait(api, run_id, {"waiting"}, timeout_s=30)
        (req,) = waiting["pending"]["requests"]
        assert req["deadline"] and waiting["wake_at"]
        done = _wait(api, run_id, {"succeeded", "failed"}, timeout_s=60)
        assert done["status"] == "succeeded", done
        assert done["output"] == {"output": "held"}
        ask = next(s for s in done["steps"] if s["node_id"] == "ask")
        assert ask["output"]["answered_by"] == "system:timeout" and ask["route"] == "rejected"
        events = api.get(f"/api/v1/runs/{run_id}/events").json()["items"]
        answered = [e for e in events if e["type"] == "human_answered"]
        assert [e["data"]["actor"] for e in answered] == ["system:timeout"]
        late = api.post(
            f"/api/v1/runs/{run_id}/resume", json={"token": req["token"], "answer": "approve"}
        )
        assert late.status_code == 409, late.text
        assert late.json()["code"] == "request_timed_out"
