"""Every ``/api/v1`` route needs a valid Bearer API key; failures are 401 problems."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, WebSocketRoute

from tests.api.conftest import Callers
from tests.api.helpers import API, assert_problem
from workspace.api.app import create_app
from workspace.runtime.workspace import Workspace

#: documentation routes: public on purpose
PUBLIC = {f"{API}/openapi.json", f"{API}/docs", f"{API}/docs/oauth2-redirect"}


def http_routes(routes: Iterable[BaseRoute]) -> Iterator[tuple[str, str]]:
    """(method, path) of every HTTP route, descending into included routers (FastAPI keeps
    them lazily as ``_IncludedRouter`` entries whose ``effective_candidates()`` are the
    routes with their full paths) and mounts."""
    for route in routes:
        nested = getattr(route, "effective_candidates", None)
        if callable(nested):
            yield from http_routes(nested())
            continue
        original = getattr(route, "original_route", route)
        if isinstance(original, WebSocketRoute) or type(original).__name__.endswith(
            "WebSocketRoute"
        ):
            continue
        sub = getattr(original, "routes", None)
        if sub is not None and not hasattr(original, "methods"):
            prefix = getattr(route, "path", "")
            for method, path in http_routes(sub):
                yield method, prefix + path
            continue
        path = getattr(route, "path", None)
        methods = getattr(original, "methods", None)
        assert path is not None and methods is not None, f"cannot read route {route!r}"
        for method in sorted(methods - {"HEAD"}):
            yield method, path


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    found = sorted(
        {(m, p) for m, p in http_routes(app.routes) if p.startswith(API + "/") and p not in PUBLIC}
    )
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x0", path)


@pytest.fixture
def routes(ws: Workspace) -> list[tuple[str, str]]:
    return api_routes(create_app(ws))


def test_the_route_walk_finds_every_documented_operation(
    client: TestClient, routes: list[tuple[str, str]]
) -> None:
    schema = client.get(f"{API}/openapi.json").json()
    documented = {
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        for method in ops
        if path.startswith(API + "/")
    }
    assert documented <= set(routes)
    # a sample of what must be there, so an empty walk cannot pass
    for needed in [
        ("GET", f"{API}/workflows"),
        ("POST", f"{API}/workflows/{{slug}}/runs"),
        ("GET", f"{API}/runs/{{run_id}}/events"),
        ("POST", f"{API}/runs/{{run_id}}/resume"),
        ("DELETE", f"{API}/keys/{{key_id}}"),
        ("GET", f"{API}/me"),
        ("GET", f"{API}/schedules"),
        ("POST", f"{API}/schedules/{{schedule_id}}/run-now"),
    ]:
        assert needed in routes


def _send(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    return client.request(method, concrete(path), headers=headers)


def test_every_route_needs_a_key(client: TestClient, routes: list[tuple[str, str]]) -> None:
    for method, path in routes:
        resp = _send(client, method, path, {})
        body = assert_problem(resp, 401, "unauthorized")
        assert resp.headers["www-authenticate"] == "Bearer", (method, path)
        assert "API key" in body["detail"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-key",
        "Bearer plait_000000000000_forged",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "plait_000000000000_forged",
    ],
)
def test_every_route_refuses_a_malformed_key(
    client: TestClient, routes: list[tuple[str, str]], header: str
) -> None:
    for method, path in routes:
        assert_problem(_send(client, method, path, {"Authorization": header}), 401, "unauthorized")


def test_every_route_refuses_a_revoked_key(
    client: TestClient, ws: Workspace, callers: Callers, routes: list[tuple[str, str]]
) -> None:
    assert client.get(f"{API}/me", headers=callers.alice.headers).status_code == 200
    ws.store.access.revoke_key(callers.alice.key.id)
    for method, path in routes:
        resp = _send(client, method, path, callers.alice.headers)
        assert_problem(resp, 401, "unauthorized")


def test_a_key_of_a_similar_prefix_is_not_enough(client: TestClient, callers: Callers) -> None:
    forged = callers.alice.secret[:-4] + "AAAA"
    resp = client.get(f"{API}/me", headers={"Authorization": f"Bearer {forged}"})
    assert_problem(resp, 401, "unauthorized")


def test_auth_is_checked_before_the_body(client: TestClient) -> None:
    """An unauthenticated caller learns nothing about the request's shape."""
    resp = client.post(
        f"{API}/workflows",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert_problem(resp, 401, "unauthorized")
    resp = client.post(f"{API}/workflows", json={"wrong": 1})
    assert_problem(resp, 401, "unauthorized")
    resp = client.get(f"{API}/workflows?limit=100000")
    assert_problem(resp, 401, "unauthorized")


def test_me_and_keys(client: TestClient, callers: Callers) -> None:
    me = client.get(f"{API}/me", headers=callers.alice.headers).json()
    assert me["id"] == callers.alice.user.id and me["role"] == "member"
    keys = client.get(f"{API}/keys", headers=callers.alice.headers).json()["items"]
    assert [k["id"] for k in keys] == [callers.alice.key.id]
    assert all("hash" not in k and "secret" not in k for k in keys)
    every = client.get(f"{API}/keys", headers=callers.admin.headers).json()["items"]
    assert {k["user_id"] for k in every} == {
        callers.admin.user.id,
        callers.alice.user.id,
        callers.bob.user.id,
    }


def test_a_new_key_is_shown_once_and_works_until_revoked(
    client: TestClient, callers: Callers
) -> None:
    resp = client.post(f"{API}/keys", json={"name": "ci"}, headers=callers.alice.headers)
    assert resp.status_code == 201
    created = resp.json()
    secret = created["secret"]
    assert "hash" not in created
    new = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"{API}/me", headers=new).json()["id"] == callers.alice.user.id
    listed = client.get(f"{API}/keys", headers=callers.alice.headers).json()["items"]
    assert all("secret" not in k for k in listed)
    # bob cannot see or revoke alice's key
    resp = client.delete(f"{API}/keys/{created['id']}", headers=callers.bob.headers)
    assert_problem(resp, 404, "key_not_found")
    resp = client.delete(f"{API}/keys/{created['id']}", headers=callers.alice.headers)
    assert resp.status_code == 204
    assert_problem(client.get(f"{API}/me", headers=new), 401, "unauthorized")


def test_only_admins_manage_users_and_others_keys(client: TestClient, callers: Callers) -> None:
    alice = callers.alice.headers
    assert_problem(client.get(f"{API}/users", headers=alice), 403, "forbidden")
    assert_problem(client.post(f"{API}/users", json={"name": "eve"}, headers=alice), 403)
    resp = client.post(f"{API}/keys", json={"user_id": callers.bob.user.id}, headers=alice)
    assert_problem(resp, 403, "forbidden")

    admin = callers.admin.headers
    names = [u["name"] for u in client.get(f"{API}/users", headers=admin).json()["items"]]
    assert names == ["alice", "bob", "root"]
    resp = client.post(f"{API}/users", json={"name": "carol"}, headers=admin)
    assert resp.status_code == 201 and resp.json()["role"] == "member"
    assert_problem(client.post(f"{API}/users", json={"name": "carol"}, headers=admin), 409)
    resp = client.post(f"{API}/keys", json={"user_id": resp.json()["id"]}, headers=admin)
    assert resp.status_code == 201
    carol = {"Authorization": f"Bearer {resp.json()['secret']}"}
    assert client.get(f"{API}/me", headers=carol).json()["name"] == "carol"
    resp = client.post(f"{API}/keys", json={"user_id": "nobody"}, headers=admin)
    assert_problem(resp, 404)


def test_node_types_are_listed(client: TestClient, callers: Callers) -> None:
    items = client.get(f"{API}/node-types", headers=callers.bob.headers).json()["items"]
    names = {i["name"] for i in items}
    assert {"trigger_webhook", "transform", "reply", "code"} <= names
