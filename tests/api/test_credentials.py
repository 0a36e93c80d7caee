"""``/api/v1/credentials``: write-only secrets, masked reads, ownership, provider tests against
the scripted mock LLM — and a canary secret that must appear in no response, no log line and
no byte of the database file."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Callers
from tests.api.helpers import API, assert_problem
from workspace.mockllm import load_script
from workspace.mockllm.server import MockLLMServer
from workspace.runtime.workspace import Workspace

CANARY = "sk-canary-0a1b2c3d4e5f6789"


@pytest.fixture
def llm() -> Iterator[MockLLMServer]:
    script = load_script(
        {"api_key": CANARY, "models": ["mock-a"], "rules": [{"match": ".", "content": "ok"}]}
    )
    with MockLLMServer(script) as server:
        yield server


def test_secrets_go_in_and_never_come_out(
    client: TestClient,
    ws: Workspace,
    callers: Callers,
    llm: MockLLMServer,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = callers.alice.headers
    bodies: list[str] = []

    def call(method: str, path: str, **kw: object) -> dict[str, object]:
        resp = client.request(method, f"{API}{path}", headers=alice, **kw)  # type: ignore[arg-type]
        bodies.append(resp.text)
        assert resp.status_code < 300, resp.text
        return resp.json() if resp.content else {}

    created = call(
        "POST",
        "/credentials",
        json={"name": "llm", "kind": "openai", "secret": CANARY, "base_url": llm.openai_base_url},
    )
    assert created["secret"] == "…6789" and created["owner"] == callers.alice.user.id
    assert "ciphertext" not in created
    assert call("GET", "/credentials")["items"][0]["name"] == "llm"  # type: ignore[index]
    assert call("GET", "/credentials/llm")["secret"] == "…6789"
    assert call("POST", "/credentials/llm/test") == {"ok": True, "models": ["mock-a"]}
    assert call("GET", "/credentials/llm/models") == {"items": ["mock-a"]}
    patched = call("PATCH", "/credentials/llm", json={"params": {"organization": "o"}})
    assert patched["params"] == {"organization": "o"} and patched["secret"] == "…6789"
    assert call("POST", "/credentials/llm/test")["ok"] is True  # secret kept
    call("GET", "/openapi.json")

    for text in bodies:
        assert CANARY not in text
    assert CANARY not in caplog.text
    db = (tmp_path / "ws" / "plait.db").read_bytes()
    wal = tmp_path / "ws" / "plait.db-wal"
    assert CANARY.encode() not in db + (wal.read_bytes() if wal.exists() else b"")


def test_a_refused_provider_is_a_502_and_a_failed_test(
    client: TestClient, callers: Callers, llm: MockLLMServer
) -> None:
    h = callers.alice.headers
    body = {"name": "bad", "kind": "anthropic", "secret": "sk-wrong-but-long", "base_url": llm.url}
    assert client.post(f"{API}/credentials", json=body, headers=h).status_code == 201
    result = client.post(f"{API}/credentials/bad/test", headers=h).json()
    assert result["ok"] is False and result["status"] == 401
    problem = assert_problem(
        client.get(f"{API}/credentials/bad/models", headers=h), 502, "provider_refused"
    )
    assert "answered 401" in problem["detail"]


def test_other_members_see_nothing_admins_see_all(client: TestClient, callers: Callers) -> None:
    body = {"name": "mine", "kind": "token", "secret": "t0ken-value-123456"}
    assert client.post(f"{API}/credentials", json=body, headers=callers.alice.headers).is_success
    bob = callers.bob.headers
    assert client.get(f"{API}/credentials", headers=bob).json() == {"items": []}
    for method, path in [
        ("GET", "/credentials/mine"),
        ("PATCH", "/credentials/mine"),
        ("DELETE", "/credentials/mine"),
        ("POST", "/credentials/mine/test"),
        ("GET", "/credentials/mine/models"),
    ]:
        kw = {"json": {}} if method == "PATCH" else {}
        resp = client.request(method, f"{API}{path}", headers=bob, **kw)  # type: ignore[arg-type]
        assert_problem(resp, 404, "credential_not_found")
    admin = callers.admin.headers
    assert [c["name"] for c in client.get(f"{API}/credentials", headers=admin).json()["items"]] == [
        "mine"
    ]
    assert client.delete(f"{API}/credentials/mine", headers=admin).status_code == 204
    assert_problem(
        client.get(f"{API}/credentials/mine", headers=callers.alice.headers),
        404,
        "credential_not_found",
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "x", "kind": "openai"}, 422, None),  # no secret
        ({"name": "x", "kind": "nope", "secret": CANARY}, 422, None),
        ({"name": "x y", "kind": "token", "secret": CANARY}, 422, "bad_credential"),
        ({"name": "x", "kind": "token", "secret": ""}, 422, "bad_credential"),
        ({"name": "x", "kind": "token", "secret": CANARY, "extra": 1}, 422, None),
        ({"name": "x", "kind": "token", "secret": {"nested": CANARY}}, 422, None),
    ],
)
def test_bad_bodies_are_refused(
    client: TestClient, callers: Callers, body: dict[str, object], status: int, code: str | None
) -> None:
    resp = client.post(f"{API}/credentials", json=body, headers=callers.alice.headers)
    assert_problem(resp, status, code)
    assert CANARY not in resp.text  # validation errors do not echo the secret back


def test_a_taken_name_is_a_conflict(client: TestClient, callers: Callers) -> None:
    body = {"name": "dup", "kind": "token", "secret": "first-secret-value"}
    assert client.post(f"{API}/credentials", json=body, headers=callers.alice.headers).is_success
    resp = client.post(f"{API}/credentials", json=body, headers=callers.bob.headers)
    assert_problem(resp, 409, "credential_exists")
