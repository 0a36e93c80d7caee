"""Members see only what they own (others' things are 404, never 403); admins see all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Callers
from tests.api.helpers import API, assert_problem, echo_dsl, save, start

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def alices(client: TestClient, callers: Callers) -> dict[str, Any]:
    """Alice's workflows and runs: a finished echo run and an approval waiting for a person."""
    h = callers.alice.headers
    save(client, h, echo_dsl())
    save(client, h, (EXAMPLES / "human_approval.yaml").read_text())
    done = start(client, h, "echo", {"n": 2})
    waiting = start(client, h, "expense-approval", {"amount": 5, "employee": "ana"})
    assert done["status"] == "succeeded" and waiting["status"] == "waiting"
    token = waiting["pending"]["requests"][0]["token"]
    return {"done": done["id"], "waiting": waiting["id"], "token": token}


def _calls(alices: dict[str, Any]) -> list[tuple[str, str, Any]]:
    done, waiting = alices["done"], alices["waiting"]
    return [
        ("GET", f"{API}/workflows/echo", None),
        ("GET", f"{API}/workflows/echo/export", None),
        ("GET", f"{API}/workflows/echo/export?format=json", None),
        ("GET", f"{API}/workflows/echo/versions", None),
        ("POST", f"{API}/workflows/echo/publish", None),
        ("POST", f"{API}/workflows/echo/runs", {"input": {"n": 1}}),
        ("GET", f"{API}/runs/{done}", None),
        ("GET", f"{API}/runs/{done}/events", None),
        ("POST", f"{API}/runs/{done}/rerun", {"from_node": "answer"}),
        ("POST", f"{API}/runs/{waiting}/cancel", None),
        ("POST", f"{API}/runs/{waiting}/pause", None),
        ("POST", f"{API}/runs/{waiting}/resume", {"token": alices["token"], "answer": "approve"}),
        ("POST", f"{API}/runs/{waiting}/resume", {}),
        ("GET", f"{API}/runs/{waiting}/events", None),
        ("DELETE", f"{API}/workflows/echo", None),
        ("DELETE", f"{API}/workflows/expense-approval", None),
    ]


def test_others_resources_are_not_found(
    client: TestClient, callers: Callers, alices: dict[str, Any]
) -> None:
    bob = callers.bob.headers
    for method, path, body in _calls(alices):
        resp = client.request(method, path, json=body, headers=bob)
        problem = assert_problem(resp, 404)
        assert problem["code"] in {"workflow_not_found", "run_not_found"}, (method, path)
    # the same answer as for things that do not exist at all
    missing = client.get(f"{API}/runs/{'0' * 32}", headers=bob)
    assert missing.json()["code"] == "run_not_found"
    resp = client.get(
        f"{API}/runs/{alices['done']}/events", headers={**bob, "Accept": "text/event-stream"}
    )
    assert_problem(resp, 404, "run_not_found")
    # nothing bob tried changed anything
    alice = callers.alice.headers
    run = client.get(f"{API}/runs/{alices['waiting']}", headers=alice).json()
    assert run["status"] == "waiting"
    assert client.get(f"{API}/workflows/echo", headers=alice).status_code == 200
    versions = client.get(f"{API}/workflows/echo/versions", headers=alice).json()["items"]
    assert len(versions) == 1
    runs = client.get(f"{API}/runs?workflow=echo", headers=alice).json()["items"]
    assert [r["id"] for r in runs] == [alices["done"]]


def test_a_member_cannot_overwrite_anothers_workflow(
    client: TestClient, callers: Callers, alices: dict[str, Any]
) -> None:
    resp = client.post(
        f"{API}/workflows",
        json={"dsl": echo_dsl(extra=" (bob was here)"), "publish": True},
        headers=callers.bob.headers,
    )
    assert_problem(resp, 404, "workflow_not_found")
    exported = client.get(f"{API}/workflows/echo/export", headers=callers.alice.headers).text
    assert "bob was here" not in exported


def test_lists_are_filtered(client: TestClient, callers: Callers, alices: dict[str, Any]) -> None:
    bob = callers.bob.headers
    save(client, bob, echo_dsl("bobs"))
    bobs_run = start(client, bob, "bobs", {"n": 1})
    slugs = {w["slug"] for w in client.get(f"{API}/workflows", headers=bob).json()["items"]}
    assert slugs == {"bobs"}
    runs = client.get(f"{API}/runs", headers=bob).json()["items"]
    assert [r["id"] for r in runs] == [bobs_run["id"]]
    assert client.get(f"{API}/runs?workflow=echo", headers=bob).json()["items"] == []
    assert client.get(f"{API}/runs?status=waiting", headers=bob).json()["items"] == []

    alice = client.get(f"{API}/runs", headers=callers.alice.headers).json()["items"]
    assert {r["id"] for r in alice} == {alices["done"], alices["waiting"]}

    admin = callers.admin.headers
    slugs = {w["slug"] for w in client.get(f"{API}/workflows", headers=admin).json()["items"]}
    assert slugs == {"echo", "expense-approval", "bobs"}
    every = {r["id"] for r in client.get(f"{API}/runs", headers=admin).json()["items"]}
    assert every == {alices["done"], alices["waiting"], bobs_run["id"]}


def test_a_members_page_is_full_even_when_others_have_newer_runs(
    client: TestClient, callers: Callers, alices: dict[str, Any]
) -> None:
    """Paging applies to what the caller may see, not to everybody's runs."""
    bob = callers.bob.headers
    save(client, bob, echo_dsl("bobs"))
    bobs = [start(client, bob, "bobs", {"n": i})["id"] for i in range(3)]
    alice = callers.alice.headers
    page = client.get(f"{API}/runs?limit=2", headers=alice).json()["items"]
    assert {r["id"] for r in page} == {alices["done"], alices["waiting"]}
    one = client.get(f"{API}/runs?limit=1", headers=alice).json()["items"]
    two = client.get(f"{API}/runs?limit=1&offset=1", headers=alice).json()["items"]
    assert len(one) == len(two) == 1 and one[0]["id"] != two[0]["id"]
    assert client.get(f"{API}/runs?offset=2", headers=alice).json()["items"] == []
    mine = client.get(f"{API}/runs?limit=2", headers=bob).json()["items"]
    assert [r["id"] for r in mine] == bobs[::-1][:2]


def test_an_admin_sees_and_acts_on_everything(
    client: TestClient, callers: Callers, alices: dict[str, Any]
) -> None:
    admin = callers.admin.headers
    assert client.get(f"{API}/workflows/echo", headers=admin).status_code == 200
    assert client.get(f"{API}/workflows/echo/versions", headers=admin).status_code == 200
    assert client.get(f"{API}/workflows/echo/export", headers=admin).status_code == 200
    assert client.get(f"{API}/runs/{alices['done']}", headers=admin).status_code == 200
    events = client.get(f"{API}/runs/{alices['done']}/events", headers=admin).json()["items"]
    assert events[-1]["type"] == "run_succeeded"
    resp = client.post(
        f"{API}/runs/{alices['waiting']}/resume",
        json={"token": alices["token"], "answer": "approve"},
        headers=admin,
    )
    assert resp.status_code == 200 and resp.json()["status"] == "succeeded"
    resp = client.post(
        f"{API}/runs/{alices['done']}/rerun",
        json={"from_node": "answer", "wait": True},
        headers=admin,
    )
    assert resp.status_code == 201 and resp.json()["status"] == "succeeded"
    assert client.delete(f"{API}/workflows/echo", headers=admin).status_code == 204


def test_webhook_runs_belong_to_the_workflows_owner(client: TestClient, callers: Callers) -> None:
    """A webhook run has no user; the owner of its workflow sees it, other members do not."""
    text = echo_dsl("hooked").replace("trigger: manual", "trigger: {type: webhook}")
    save(client, callers.alice.headers, text)
    resp = client.post("/hooks/hooked/trigger_webhook", json={"n": 4})
    assert resp.status_code == 202
    run_id = resp.json()["run_id"]
    assert client.get(f"{API}/runs/{run_id}", headers=callers.alice.headers).status_code == 200
    assert_problem(client.get(f"{API}/runs/{run_id}", headers=callers.bob.headers), 404)
    assert client.get(f"{API}/runs", headers=callers.bob.headers).json()["items"] == []
