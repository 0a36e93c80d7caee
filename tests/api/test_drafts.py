"""The draft, nodes and edges, diff and rollback over ``/api/v1/workflows/{slug}/...``."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Callers
from tests.api.helpers import API, assert_problem, dsl, save, start

DOC = dsl(
    """
    name: Greeter
    slug: greeter
    steps:
      - id: greet
        type: transform
        template: "hello {{ input.name }}"
    """
)


def test_nodes_and_edges_edit_the_draft_then_publish_diff_and_rollback(
    client: TestClient, callers: Callers
) -> None:
    h = callers.alice.headers
    save(client, h, DOC)  # version 1
    base = f"{API}/workflows/greeter"
    nodes = client.get(f"{base}/nodes", headers=h).json()["items"]
    assert [n["id"] for n in nodes] == ["trigger_manual", "greet"]

    r = client.post(
        f"{base}/nodes",
        json={
            "id": "shout",
            "type": "transform",
            "config": {"template": "{{ greet.output | upper }}"},
            "position": {"x": 300, "y": 0},
        },
        headers=h,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = client.post(f"{base}/edges", json={"source": "greet", "target": "shout"}, headers=h)
    assert r.status_code == 201, r.text
    assert_problem(
        client.post(f"{base}/edges", json={"source": "greet", "target": "shout"}, headers=h),
        409,
        "edge_exists",
    )
    r = client.patch(f"{base}/nodes/shout", json={"label": "Shout"}, headers=h)
    assert r.json()["label"] == "Shout" and r.json()["config"]["template"].startswith("{{")

    draft = client.get(f"{base}/draft", headers=h).json()
    assert "id: shout" in draft["dsl"] and "label: Shout" in draft["dsl"]  # the DSL follows
    assert client.post(f"{base}/publish", headers=h).json()["number"] == 2
    run = start(client, h, "greeter", {"name": "ada"})
    assert run["output"] == {"output": "HELLO ADA"}

    diff = client.get(f"{base}/diff", params={"from": 1, "to": 2}, headers=h).json()
    assert [n["id"] for n in diff["nodes"]["added"]] == ["shout"]
    assert [(e["source"], e["target"]) for e in diff["edges"]["added"]] == [("greet", "shout")]
    assert (
        "+  - id: shout" in diff["text"]
        or "+- id: shout" in diff["text"]
        or "shout" in diff["text"]
    )
    assert diff["text"].startswith("--- greeter@1\n+++ greeter@2\n")

    rolled = client.post(f"{base}/rollback", json={"version": 1}, headers=h)
    assert rolled.status_code == 201 and rolled.json()["number"] == 3
    assert start(client, h, "greeter", {"name": "ada"})["output"] == {"output": "hello ada"}
    same = client.get(f"{base}/diff", params={"from": 1, "to": 3}, headers=h).json()
    assert same["text"] == "" and same["nodes"] == {"added": [], "removed": [], "changed": []}
    assert client.get(f"{base}/nodes", headers=h).json()["items"][-1]["id"] == "greet"


def test_bad_edits_are_refused_with_every_problem_and_change_nothing(
    client: TestClient, callers: Callers
) -> None:
    h = callers.alice.headers
    save(client, h, DOC)
    base = f"{API}/workflows/greeter"
    before = client.get(f"{base}/draft", headers=h).json()
    assert_problem(
        client.post(f"{base}/nodes", json={"id": "x", "type": "no_such_type"}, headers=h),
        422,
        "dsl_invalid",
    )
    assert_problem(client.post(f"{base}/nodes", json={"id": "Bad Id", "type": "transform"},
                               headers=h), 422, "bad_node")  # fmt: skip
    assert_problem(
        client.post(f"{base}/nodes", json={"id": "greet", "type": "transform"}, headers=h),
        409,
        "node_exists",
    )
    assert_problem(
        client.post(f"{base}/edges", json={"source": "greet", "target": "ghost"}, headers=h),
        422,
        "dsl_invalid",
    )
    assert_problem(
        client.patch(f"{base}/nodes/greet", json={"id": "renamed"}, headers=h), 422, "bad_node"
    )
    assert_problem(client.patch(f"{base}/nodes/ghost", json={}, headers=h), 404, "node_not_found")
    assert_problem(
        client.post(f"{base}/edges/delete", json={"source": "a", "target": "b"}, headers=h),
        404,
        "edge_not_found",
    )
    assert_problem(client.get(f"{base}/diff", params={"from": "latest"}, headers=h), 422,
                   "bad_version")  # fmt: skip
    assert_problem(client.post(f"{base}/rollback", json={"version": 9}, headers=h), 404, None)
    assert client.get(f"{base}/draft", headers=h).json() == before


def test_removing_a_node_removes_its_edges(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    save(client, h, DOC)
    base = f"{API}/workflows/greeter"
    assert client.delete(f"{base}/nodes/greet", headers=h).status_code == 204
    assert client.get(f"{base}/edges", headers=h).json()["items"] == []
    assert [n["id"] for n in client.get(f"{base}/nodes", headers=h).json()["items"]] == [
        "trigger_manual"
    ]


def test_import_and_put_draft(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    r = client.post(f"{API}/workflows/import", json={"dsl": DOC}, headers=h)
    assert r.status_code == 201 and r.json()["version"]["number"] == 1
    again = client.post(f"{API}/workflows/import", json={"dsl": DOC}, headers=h)
    assert again.json()["version"]["number"] == 1  # unchanged: no new version
    draft = DOC.replace('template: "hello {{ input.name }}"', "template:")
    r = client.put(f"{API}/workflows/greeter/draft", json={"dsl": draft}, headers=h)
    assert r.status_code == 200, r.text
    assert "greet" in str(client.get(f"{API}/workflows/greeter/draft", headers=h).json()["dsl"])
    # another member can neither read nor replace it
    b = callers.bob.headers
    for method, path in [("GET", "/draft"), ("GET", "/nodes"), ("GET", "/edges"),
                         ("GET", "/diff?from=1")]:  # fmt: skip
        assert_problem(client.request(method, f"{API}/workflows/greeter{path}", headers=b), 404)
    assert_problem(client.post(f"{API}/workflows/import", json={"dsl": DOC}, headers=b), 404)
