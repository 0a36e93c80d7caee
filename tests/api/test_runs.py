"""``/api/v1/runs`` and starting runs: detail, lists, human resume, cancel, pause, rerun."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import Callers
from tests.api.helpers import (
    API,
    assert_problem,
    echo_dsl,
    join_driver,
    save,
    slow_dsl,
    start,
    wait_run,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_start_with_wait_and_detail_with_steps(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    save(client, h, echo_dsl())
    resp = client.post(
        f"{API}/workflows/echo/runs", json={"input": {"n": 21}, "wait": True}, headers=h
    )
    assert resp.status_code == 202
    body = resp.json()
    assert body["status"] == "succeeded" and body["run_id"] == body["run"]["id"]
    run = body["run"]
    assert run["output"]["text"] == "n=21 double=42"
    assert run["user"] == callers.alice.user.id
    assert run["input"] == {"n": 21} and run["version_number"] == 1

    detail = client.get(f"{API}/runs/{run['id']}", headers=h).json()
    assert detail["status"] == "succeeded" and detail["output"] == run["output"]
    steps = {s["node_id"]: s for s in detail["steps"]}
    assert set(steps) == {"trigger_manual", "shape", "answer"}
    assert all(s["status"] == "succeeded" for s in steps.values())
    assert steps["shape"]["output"] == {"output": {"n": 21, "double": 42}}


def test_start_without_wait_then_poll(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    save(client, h, echo_dsl())
    run = start(client, h, "echo", {"n": 1}, wait=False)
    assert run["status"] in {"queued", "running", "succeeded"}
    done = wait_run(client, h, run["id"])
    assert done["status"] == "succeeded" and done["output"]["text"] == "n=1 double=2"


def test_start_problems(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    resp = client.post(f"{API}/workflows/nope/runs", json={}, headers=h)
    assert_problem(resp, 404, "workflow_not_found")
    save(client, h, echo_dsl(), publish=False)
    resp = client.post(f"{API}/workflows/echo/runs", json={}, headers=h)
    assert_problem(resp, 404)  # nothing published yet
    save(client, h, echo_dsl())
    resp = client.post(f"{API}/workflows/echo/runs", json={"version": 7}, headers=h)
    assert_problem(resp, 404)
    resp = client.post(f"{API}/workflows/echo/runs", json={"timeout_s": 0}, headers=h)
    assert_problem(resp, 422, "invalid_request")
    assert_problem(client.get(f"{API}/runs/does-not-exist", headers=h), 404, "run_not_found")


def test_list_filtered_by_workflow_and_status(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    save(client, h, echo_dsl())
    save(client, h, echo_dsl("other"))
    save(client, h, (EXAMPLES / "human_approval.yaml").read_text())
    a = start(client, h, "echo", {"n": 1})["id"]
    b = start(client, h, "echo", {"n": 2})["id"]
    c = start(client, h, "other", {"n": 3})["id"]
    w = start(client, h, "expense-approval", {"amount": 1, "employee": "x"})["id"]

    def ids(query: str) -> list[str]:
        resp = client.get(f"{API}/runs{query}", headers=h)
        assert resp.status_code == 200, resp.text
        return [r["id"] for r in resp.json()["items"]]

    assert ids("?workflow=echo") == [b, a]  # newest first
    assert ids("?workflow=other") == [c]
    assert ids("?workflow=unknown") == []
    assert set(ids("?status=succeeded")) == {a, b, c}
    assert ids("?status=waiting") == [w]
    assert ids("?workflow=echo&status=waiting") == []
    assert ids("?limit=2") == [w, c]
    assert ids("?limit=2&offset=2") == [b, a]
    assert_problem(client.get(f"{API}/runs?status=bogus", headers=h), 422, "invalid_request")


def test_human_approval_resumed_with_the_pending_token(
    client: TestClient, callers: Callers
) -> None:
    h = callers.alice.headers
    save(client, h, (EXAMPLES / "human_approval.yaml").read_text())
    run = start(client, h, "expense-approval", {"amount": 1200, "employee": "ana"})
    assert run["status"] == "waiting"
    (request,) = run["pending"]["requests"]
    assert request["node_id"] == "review"
    token = request["token"]

    path = f"{API}/runs/{run['id']}/resume"
    # a wrong token is refused and changes nothing
    resp = client.post(path, json={"token": "not-the-token", "answer": "approve"}, headers=h)
    assert_problem(resp, 422, "bad_token")
    # a paused-style resume (no token) on a waiting run asks for the token
    assert_problem(client.post(path, json={}, headers=h), 422, "token_required")
    assert client.get(f"{API}/runs/{run['id']}", headers=h).json()["status"] == "waiting"

    resp = client.post(path, json={"token": token, "answer": "approve"}, headers=h)
    assert resp.status_code == 200, resp.text
    done = resp.json()
    assert done["status"] == "succeeded"
    assert done["output"]["text"] == "Paid 1200 EUR to ana."

    # idempotent: the same answer again returns the run unchanged, runs nothing twice
    again = client.post(path, json={"token": token, "answer": "approve"}, headers=h)
    assert again.status_code == 200 and again.json()["status"] == "succeeded"
    assert again.json()["finished_at"] == done["finished_at"]
    events = client.get(f"{API}/runs/{run['id']}/events", headers=h).json()["items"]
    types = [e["type"] for e in events]
    assert types.count("human_answered") == 1 and types.count("run_succeeded") == 1
    # a different answer with the used token does not change the outcome either
    other = client.post(path, json={"token": token, "answer": "reject"}, headers=h)
    assert other.status_code == 200 and other.json()["output"] == done["output"]
    # a wrong token on a finished run: a conflict problem
    resp = client.post(path, json={"token": "nope", "answer": "approve"}, headers=h)
    assert_problem(resp, 409, "not_waiting")


def test_human_rejection(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    save(client, h, (EXAMPLES / "human_approval.yaml").read_text())
    run = start(client, h, "expense-approval", {"amount": 3, "employee": "bo"})
    token = run["pending"]["requests"][0]["token"]
    resp = client.post(
        f"{API}/runs/{run['id']}/resume", json={"token": token, "answer": "reject"}, headers=h
    )
    assert resp.status_code == 200 and resp.json()["status"] == "succeeded"
    steps = client.get(f"{API}/runs/{run['id']}", headers=h).json()["steps"]
    assert {s["node_id"]: s["status"] for s in steps}["pay"] == "skipped"


def test_cancel_a_waiting_run(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    save(client, h, (EXAMPLES / "human_approval.yaml").read_text())
    run = start(client, h, "expense-approval", {"amount": 3, "employee": "bo"})
    token = run["pending"]["requests"][0]["token"]
    resp = client.post(f"{API}/runs/{run['id']}/cancel", headers=h)
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    assert resp.json()["pending"] is None
    # cancelling again is harmless; answering is refused
    assert client.post(f"{API}/runs/{run['id']}/cancel", headers=h).json()["status"] == "cancelled"
    resp = client.post(
        f"{API}/runs/{run['id']}/resume", json={"token": token, "answer": "approve"}, headers=h
    )
    assert_problem(resp, 409, "not_waiting")
    events = client.get(f"{API}/runs/{run['id']}/events", headers=h).json()["items"]
    assert events[-1]["type"] == "run_cancelled"


def test_cancel_a_running_run(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    save(client, h, slow_dsl(seconds=0.8))
    run = start(client, h, "slow", wait=False)
    wait_run(client, h, run["id"], {"running"})
    resp = client.post(f"{API}/runs/{run['id']}/cancel", headers=h)
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    join_driver(run["id"])  # the driver notices at its next step and stops
    final = client.get(f"{API}/runs/{run['id']}", headers=h).json()
    assert final["status"] == "cancelled" and final["output"] is None
    assert "after" not in {s["node_id"] for s in final["steps"] if s["status"] == "succeeded"}


def test_pause_and_unpause(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    save(client, h, slow_dsl(seconds=0.5))
    run = start(client, h, "slow", wait=False)
    wait_run(client, h, run["id"], {"running"})
    resp = client.post(f"{API}/runs/{run['id']}/pause", headers=h)
    assert resp.status_code == 200 and resp.json()["status"] == "paused"
    assert_problem(client.post(f"{API}/runs/{run['id']}/pause", headers=h), 409, "not_pausable")
    join_driver(run["id"])  # the driver stops at its next step
    assert client.get(f"{API}/runs/{run['id']}", headers=h).json()["status"] == "paused"
    resp = client.post(f"{API}/runs/{run['id']}/resume", json={"wait": True}, headers=h)
    assert resp.status_code == 200, resp.text
    done = wait_run(client, h, run["id"], {"succeeded", "failed", "cancelled"})
    assert done["status"] == "succeeded" and done["output"]["text"] == "done"
    types = [
        e["type"] for e in client.get(f"{API}/runs/{run['id']}/events", headers=h).json()["items"]
    ]
    assert "run_paused" in types and types[-1] == "run_succeeded"
    naps = [s for s in done["steps"] if s["node_id"] == "nap" and s["status"] == "succeeded"]
    assert len(naps) == 1  # the finished step was not run again


def test_pausing_a_finished_run_is_a_conflict(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    save(client, h, echo_dsl())
    run = start(client, h, "echo", {"n": 1})
    assert_problem(client.post(f"{API}/runs/{run['id']}/pause", headers=h), 409, "not_pausable")
    assert_problem(client.post(f"{API}/runs/{run['id']}/resume", json={}, headers=h), 422)


def test_rerun_from_a_node(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    save(client, h, echo_dsl())
    run = start(client, h, "echo", {"n": 5})
    body = {"from_node": "answer", "wait": True}
    resp = client.post(f"{API}/runs/{run['id']}/rerun", json=body, headers=h)
    assert resp.status_code == 201, resp.text
    again: dict[str, Any] = resp.json()
    assert again["id"] != run["id"] and again["rerun_of"] == run["id"]
    assert again["rerun_from_node"] == "answer"
    assert again["status"] == "succeeded" and again["output"] == run["output"]
    queued = client.post(f"{API}/runs/{run['id']}/rerun", json={"from_node": "answer"}, headers=h)
    assert queued.status_code == 201 and queued.json()["status"] in (
        "queued",
        "running",
        "succeeded",
    )
    done = wait_run(client, h, queued.json()["id"])
    assert done["status"] == "succeeded" and done["output"] == run["output"]
    resp = client.post(f"{API}/runs/{run['id']}/rerun", json={"from_node": "ghost"}, headers=h)
    assert resp.status_code in {404, 422}
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert_problem(client.post(f"{API}/runs/{run['id']}/rerun", json={}, headers=h), 422)
