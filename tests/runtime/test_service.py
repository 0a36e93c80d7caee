"""The service for real: ``plait api`` + ``plait worker`` subprocesses on real Redis.

Webhook → run on a worker → events over SSE, resumed after a dropped connection; ``kill -9`` of
the worker driving a run → another worker finishes it from the last checkpoint; a stopped
queue with no worker yet loses no accepted webhook.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.runtime.conftest import Service

pytestmark = pytest.mark.timeout(180)

TRIAGE = (Path(__file__).parents[2] / "examples" / "webhook_triage.yaml").read_text()

SLOW = """
name: Slow chain
slug: slow-chain
trigger: webhook
steps:
  - id: first
    type: code
    code: |
      return {"n": 1}
  - id: slow
    type: code
    code: |
      import time
      time.sleep(2.5)
      return {"n": trigger["payload"]["k"]}
  - id: last
    type: code
    code: |
      return {"done": slow["n"]}
"""


def _sse(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: ") :]) for line in lines if line.startswith("data: ")]


def _events(client: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(f"/api/v1/runs/{run_id}/events").json()["items"]
    return items


def _wait_status(
    client: httpx.Client, run_id: str, statuses: set[str], timeout_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = client.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] in statuses:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} still {run.get('status')} after {timeout_s} s")


def test_webhook_runs_on_a_worker_and_events_stream_with_resume(service: Service) -> None:
    service.worker("w1")
    service.wait_ready(workers=1)
    with service.client() as api:
        r = api.post("/api/v1/workflows", json={"dsl": TRIAGE, "publish": True})
        assert r.status_code == 201, r.text
        body = {"type": "bug", "severity": 9, "title": "Checkout is down"}
        hook = httpx.post(f"{service.url}/hooks/webhook-triage/trigger_webhook", json=body)
        assert hook.status_code == 202, hook.text
        run_id = hook.json()["run_id"]

        # first connection: read three events, then drop it
        first: list[str] = []
        headers = {"Accept": "text/event-stream"}
        with api.stream("GET", f"/api/v1/runs/{run_id}/events", headers=headers) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            for line in resp.iter_lines():
                first.append(line)
                if len(_sse(first)) == 3:
                    break
        got = _sse(first)
        assert [e["seq"] for e in got] == [1, 2, 3]
        assert got[0]["type"] == "run_queued"

        # reconnect from the last seq seen: exactly the rest, ending at the final event
        headers["Last-Event-ID"] = str(got[-1]["seq"])
        with api.stream("GET", f"/api/v1/runs/{run_id}/events", headers=headers) as resp:
            rest = _sse(list(resp.iter_lines()))
        seqs = [e["seq"] for e in got + rest]
        assert seqs == list(range(1, len(seqs) + 1))
        assert rest[-1]["type"] == "run_succeeded"
        assert rest[-1]["data"]["output"]["text"] == "page P1 in oncall: Checkout is down"

        run = api.get(f"/api/v1/runs/{run_id}").json()
        assert run["status"] == "succeeded"
        assert {s["node_id"] for s in run["steps"]} >= {"normalize", "route"}

        # the same delivery again: no second run
        again = httpx.post(f"{service.url}/hooks/webhook-triage/trigger_webhook", json=body)
        assert again.json() == {"run_id": run_id, "status": "succeeded", "duplicate": True}


def test_kill_9_of_the_driving_worker_is_recovered_by_another(service: Service) -> None:
    service.worker("w1")
    service.worker("w2")
    service.wait_ready(workers=2)
    with service.client() as api:
        assert api.post("/api/v1/workflows", json={"dsl": SLOW, "publish": True}).status_code == 201
        hook = httpx.post(f"{service.url}/hooks/slow-chain/trigger_webhook", json={"k": 7})
        run_id = hook.json()["run_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            types = [(e["type"], e["node_id"]) for e in _events(api, run_id)]
            if ("node_started", "slow") in types:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the slow step never started")

        with service.open() as ws:
            owner = ws.store.leases.get(run_id).owner
        assert owner is not None and owner != "queue"
        pid = int(owner.split(":")[1])
        victim = next(p for p in service.procs.values() if p.pid == pid)
        killed_at = time.monotonic()
        os.killpg(pid, signal.SIGKILL)  # the worker and its code sandbox, like a machine dying
        victim.wait(timeout=10)

        run = _wait_status(api, run_id, {"succeeded", "failed"}, timeout_s=60)
        took = time.monotonic() - killed_at
        assert run["status"] == "succeeded", run
        assert run["output"] == {"done": 7}
        events = _events(api, run_id)
        done = [e["node_id"] for e in events if e["type"] == "node_succeeded"]
        assert done.count("first") == 1  # finished before the crash: not run again
        assert done.count("slow") == 1 and done.count("last") == 1
        with service.open() as ws:
            lease = ws.store.leases.get(run_id)
        assert lease.owner is None or lease.owner != owner
        print(f"recovered {took:.1f} s after kill -9")


def test_an_accepted_webhook_survives_a_queue_outage(service: Service) -> None:
    """The API is up but no worker is: the run is stored and queued; a worker started later
    drives it (the task waited in Redis; the database had the run all along)."""
    service.wait_healthy()
    with service.client() as api:
        assert (
            api.post("/api/v1/workflows", json={"dsl": TRIAGE, "publish": True}).status_code == 201
        )
        hook = httpx.post(
            f"{service.url}/hooks/webhook-triage/trigger_webhook",
            json={"type": "question", "severity": 1, "title": "Hi"},
        )
        assert hook.status_code == 202
        run_id = hook.json()["run_id"]
        assert api.get(f"/api/v1/runs/{run_id}").json()["status"] == "queued"
        service.worker("late")
        run = _wait_status(api, run_id, {"succeeded", "failed"}, timeout_s=60)
        assert run["status"] == "succeeded"


def test_event_subscriptions_over_real_http_are_authorized(service: Service) -> None:
    """SSE and WebSocket subscriptions of a run: no key → refused, another member's key → not
    found (like the REST resource), the owner's key → the events, live to the final one."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    from workspace.domain.access import Role, User, new_api_key

    with service.open(inline=True) as ws:
        mallory = ws.store.access.create_user(User(name="mallory", role=Role.MEMBER))
        key, other = new_api_key(mallory.id)
        ws.store.access.add_key(key)
    service.worker("w1")
    service.wait_ready(workers=1)
    with service.client() as api:
        assert api.post("/api/v1/workflows", json={"dsl": SLOW, "publish": True}).status_code == 201
        run_id = httpx.post(
            f"{service.url}/hooks/slow-chain/trigger_webhook", json={"k": 5}
        ).json()["run_id"]
    path = f"/api/v1/runs/{run_id}/events"
    sse = {"Accept": "text/event-stream"}
    assert httpx.get(service.url + path, headers=sse).status_code == 401
    bad = httpx.get(service.url + path, headers={**sse, "Authorization": "Bearer plait_nope"})
    assert bad.status_code == 401
    theirs = httpx.get(service.url + path, headers={**sse, "Authorization": f"Bearer {other}"})
    assert theirs.status_code == 404
    assert theirs.headers["content-type"].startswith("application/problem+json")

    ws_url = f"ws://127.0.0.1:{service.port}{path}/ws"

    def refused(first_message: str) -> tuple[dict[str, Any], int | None]:
        with connect(ws_url, open_timeout=10) as sock:
            sock.send(first_message)
            reply = json.loads(sock.recv(timeout=10))
            with pytest.raises(ConnectionClosed) as closed:
                sock.recv(timeout=10)
        return reply, closed.value.rcvd.code if closed.value.rcvd else None

    reply, code = refused("not json")
    assert (reply["error"], code) == ("unauthorized", 4401)
    reply, code = refused(json.dumps({"token": other}))
    assert (reply["error"], code) == ("run_not_found", 4404)

    with connect(ws_url, open_timeout=10) as sock:
        sock.send(json.dumps({"token": service.key}))
        got = []
        try:
            while True:
                got.append(json.loads(sock.recv(timeout=60)))
        except ConnectionClosed:
            pass
    assert [e["seq"] for e in got] == list(range(1, len(got) + 1))
    assert got[-1]["type"] == "run_succeeded" and got[-1]["data"]["output"] == {"done": 5}


def test_a_rerun_over_the_api_is_driven_by_a_worker(service: Service) -> None:
    service.worker("w1")
    service.wait_ready(workers=1)
    with service.client() as api:
        assert api.post("/api/v1/workflows", json={"dsl": SLOW, "publish": True}).status_code == 201
        run_id = httpx.post(
            f"{service.url}/hooks/slow-chain/trigger_webhook", json={"k": 4}
        ).json()["run_id"]
        assert _wait_status(api, run_id, {"succeeded"}, timeout_s=60)["output"] == {"done": 4}
        again = api.post(f"/api/v1/runs/{run_id}/rerun", json={"from_node": "last"})
        assert again.status_code == 201, again.text
        assert again.json()["status"] == "queued"  # handed to the workers, not driven here
        rerun = _wait_status(api, again.json()["id"], {"succeeded", "failed"}, timeout_s=60)
        assert rerun["status"] == "succeeded" and rerun["output"] == {"done": 4}
        ran = [e["node_id"] for e in _events(api, rerun["id"]) if e["type"] == "node_started"]
        assert ran == ["last"]  # upstream outputs reused, the slow step not run again
        worker_log = (service.folder / "w1.log").read_text()
        api_log = (service.folder / "api.log").read_text()
        assert "Traceback" not in worker_log + api_log
