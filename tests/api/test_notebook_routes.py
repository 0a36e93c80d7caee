"""The routes of the notebook surface: a workflow's graph and ``%%step`` patches of its draft —
owners only (others get 404), bad cells are problems that change nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Callers
from tests.api.helpers import API, assert_problem, echo_dsl, save


def test_graph_and_step_patches(client: TestClient, callers: Callers) -> None:
    alice, bob = callers.alice.headers, callers.bob.headers
    save(client, alice, echo_dsl())
    graph = client.get(f"{API}/workflows/echo/graph", headers=alice)
    assert graph.status_code == 200
    ids = [n["id"] for n in graph.json()["nodes"]]
    patched = client.put(
        f"{API}/workflows/echo/steps/extra",
        json={"body": "return {'x': 1}", "type": "code", "after": ids[-1]},
        headers=alice,
    )
    assert patched.status_code == 200 and patched.json()["workflow"]["slug"] == "echo"
    draft = client.get(f"{API}/workflows/echo/graph", headers=alice).json()
    extra = next(n for n in draft["nodes"] if n["id"] == "extra")
    assert extra["config"] == {"code": "return {'x': 1}\n"}
    published = client.get(f"{API}/workflows/echo/graph?draft=false", headers=alice).json()
    assert "extra" not in [n["id"] for n in published["nodes"]]
    # others see nothing and change nothing
    assert_problem(client.get(f"{API}/workflows/echo/graph", headers=bob), 404)
    denied = client.put(f"{API}/workflows/echo/steps/extra", json={"body": "x"}, headers=bob)
    assert_problem(denied, 404, "workflow_not_found")
    # a bad cell is a problem; the draft stays
    conflict = client.put(
        f"{API}/workflows/echo/steps/extra",
        json={"body": "{{ 1 }}", "type": "transform"},
        headers=alice,
    )
    assert_problem(conflict, 422, "step_type_conflict")
    assert_problem(client.put(f"{API}/workflows/echo/steps/extra", json={}, headers=alice), 422)
    assert client.get(f"{API}/workflows/echo/graph", headers=alice).json() == draft
