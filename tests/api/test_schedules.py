"""``/api/v1/schedules``: list with filters and pages, detail with the configuration from the
workflow, pause, resume, run now; members see only their own workflows' schedules."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import MAX_PAGE, Callers
from tests.api.helpers import API, assert_problem, dsl, save, wait_run


def schedule_dsl(slug: str, trigger_id: str = "every", config: str = "interval_s: 3600") -> str:
    return dsl(
        f"""
        name: Scheduled {slug}
        slug: {slug}
        trigger:
          type: schedule
          id: {trigger_id}
          {config}
          payload: {{source: cron}}
        steps:
          - id: echo
            type: transform
            template: "{{{{ trigger }}}}"
        """
    )


@pytest.fixture
def mine(client: TestClient, callers: Callers) -> dict[str, Any]:
    """Alice's two scheduled workflows and Bob's one; returns Alice's first schedule."""
    save(client, callers.alice.headers, schedule_dsl("alpha"))
    save(client, callers.alice.headers, schedule_dsl("beta", "nightly", 'cron: "0 3 * * *"'))
    save(client, callers.bob.headers, schedule_dsl("bobs"))
    items = client.get(f"{API}/schedules", headers=callers.alice.headers).json()["items"]
    assert [i["workflow_slug"] for i in items] == ["alpha", "beta"]
    return dict(items[0])


def test_list_and_detail(client: TestClient, callers: Callers, mine: dict[str, Any]) -> None:
    assert mine["trigger_id"] == "every" and mine["paused"] is False
    assert mine["config"]["interval_s"] == 3600 and mine["config"]["payload"] == {"source": "cron"}
    assert mine["next_fire_at"] is not None and "rev" not in mine
    got = client.get(f"{API}/schedules/{mine['id']}", headers=callers.alice.headers)
    assert got.status_code == 200 and got.json() == mine
    h = callers.alice.headers
    beta = client.get(f"{API}/schedules?workflow=beta", headers=h).json()["items"]
    assert [b["config"]["cron"] for b in beta] == ["0 3 * * *"]
    assert client.get(f"{API}/schedules?workflow=nope", headers=h).json()["items"] == []
    page = client.get(f"{API}/schedules?limit=1&offset=1", headers=h).json()
    assert [i["workflow_slug"] for i in page["items"]] == ["beta"] and page["limit"] == 1
    resp = client.get(f"{API}/schedules?limit={MAX_PAGE + 1}", headers=h)
    assert_problem(resp, 422, "page_too_large")
    every = client.get(f"{API}/schedules", headers=callers.admin.headers).json()["items"]
    assert [i["workflow_slug"] for i in every] == ["alpha", "beta", "bobs"]


def test_pause_resume_and_filter(
    client: TestClient, callers: Callers, mine: dict[str, Any]
) -> None:
    h = callers.alice.headers
    paused = client.post(f"{API}/schedules/{mine['id']}/pause", headers=h)
    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert paused.json()["wake_at"] is None
    listed = client.get(f"{API}/schedules?paused=true", headers=h).json()["items"]
    assert [i["id"] for i in listed] == [mine["id"]]
    active = client.get(f"{API}/schedules?paused=false", headers=h).json()["items"]
    assert [i["workflow_slug"] for i in active] == ["beta"]
    resumed = client.post(f"{API}/schedules/{mine['id']}/resume", headers=h).json()
    assert resumed["paused"] is False and resumed["next_fire_at"] is not None


def test_run_now(client: TestClient, callers: Callers, mine: dict[str, Any]) -> None:
    h = callers.alice.headers
    resp = client.post(f"{API}/schedules/{mine['id']}/run-now", headers=h)
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["run"]["input"]["source"] == "cron" and "scheduled_at" in body["run"]["input"]
    run = wait_run(client, h, body["run_id"], {"succeeded"})
    assert run["output"]["output"]["scheduled_at"] == body["run"]["input"]["scheduled_at"]
    after = client.get(f"{API}/schedules/{mine['id']}", headers=h).json()
    assert after["last_run_id"] == body["run_id"] and after["fires"] == 0


def test_others_schedules_are_not_found(
    client: TestClient, callers: Callers, mine: dict[str, Any]
) -> None:
    bob = callers.bob.headers
    listed = client.get(f"{API}/schedules", headers=bob).json()["items"]
    assert [i["workflow_slug"] for i in listed] == ["bobs"]
    assert client.get(f"{API}/schedules?workflow=alpha", headers=bob).json()["items"] == []
    for method, suffix in [
        ("GET", ""),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("POST", "/run-now"),
    ]:
        for target in (mine["id"], "does-not-exist"):
            resp = client.request(method, f"{API}/schedules/{target}{suffix}", headers=bob)
            assert_problem(resp, 404, "schedule_not_found")
    # nothing changed, nothing ran
    again = client.get(f"{API}/schedules/{mine['id']}", headers=callers.alice.headers).json()
    assert again == mine
    # the admin may act on anyone's
    admin = callers.admin.headers
    resp = client.post(f"{API}/schedules/{mine['id']}/pause", headers=admin)
    assert resp.status_code == 200 and resp.json()["paused"] is True


def test_deleting_the_workflow_removes_its_schedules(
    client: TestClient, callers: Callers, mine: dict[str, Any]
) -> None:
    h = callers.alice.headers
    assert client.delete(f"{API}/workflows/alpha", headers=h).status_code == 204
    assert_problem(client.get(f"{API}/schedules/{mine['id']}", headers=h), 404)
    items = client.get(f"{API}/schedules", headers=h).json()["items"]
    assert [i["workflow_slug"] for i in items] == ["beta"]
