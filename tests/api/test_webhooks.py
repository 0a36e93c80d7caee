"""``/hooks/{workflow}/{trigger_id}``: per-trigger auth, dedupe, limits, sync mode (SPEC §6)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import MAX_BODY, SECRETS, Callers
from tests.api.helpers import API, assert_problem, dsl, save, slow_dsl, wait_run
from workspace.runtime.webhooks import sign
from workspace.runtime.workspace import Workspace

HOOK = "trigger_webhook"


def hook_dsl(slug: str, config: dict[str, Any] | None = None, *, sleep_s: float = 0) -> str:
    cfg = json.dumps(config or {})
    nap = (
        f"""
          - id: nap
            type: test_sleep
            seconds: {sleep_s}"""
        if sleep_s
        else ""
    )
    return dsl(
        f"""
        name: Hook {slug}
        slug: {slug}
        trigger: {{type: webhook, config: {cfg}}}
        steps:{nap}
          - id: seen
            type: transform
            template: "{{{{ {{'payload': trigger.payload, 'query': trigger.query}} }}}}"
          - id: answer
            type: reply
            text: "got {{{{ trigger.payload }}}}"
        """
    )


@pytest.fixture
def owner(client: TestClient, callers: Callers) -> dict[str, str]:
    return callers.alice.headers


def hook_url(slug: str, trigger: str = HOOK) -> str:
    return f"/hooks/{slug}/{trigger}"


def runs_of(ws: Workspace, slug: str) -> list[Any]:
    wf = ws.store.workflows.get(slug)
    return list(ws.store.runs.list(workflow_id=wf.id))


def finished(client: TestClient, owner: dict[str, str], run_id: str) -> dict[str, Any]:
    return wait_run(client, owner, run_id, {"succeeded", "failed", "cancelled", "waiting"})


# -- auth: none --------------------------------------------------------------------------------


def test_no_auth_accepts_and_passes_payload_headers_and_query(
    client: TestClient, owner: dict[str, str]
) -> None:
    save(client, owner, hook_dsl("open"))
    resp = client.post(
        hook_url("open") + "?source=ci&n=2",
        json={"kind": "push", "n": 1},
        headers={"X-Custom": "yes", "Authorization": "Bearer do-not-store"},
    )
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert set(body) == {"run_id", "status"}
    run = finished(client, owner, body["run_id"])
    assert run["status"] == "succeeded"
    assert run["trigger_id"] == HOOK and run["user"] is None
    assert run["input"]["payload"] == {"kind": "push", "n": 1}
    assert run["input"]["query"] == {"source": "ci", "n": "2"}
    headers = run["input"]["headers"]
    assert headers["x-custom"] == "yes"
    assert "authorization" not in headers
    assert run["output"]["text"] == "got {'kind': 'push', 'n': 1}"


def test_non_json_body_is_text(client: TestClient, owner: dict[str, str]) -> None:
    save(client, owner, hook_dsl("texty"))
    resp = client.post(hook_url("texty"), content=b"hello", headers={"Content-Type": "text/plain"})
    assert resp.status_code == 202
    run = finished(client, owner, resp.json()["run_id"])
    assert run["input"]["payload"] == "hello"


# -- auth: header ------------------------------------------------------------------------------


def test_header_token(client: TestClient, ws: Workspace, owner: dict[str, str]) -> None:
    save(client, owner, hook_dsl("tok", {"auth": "header", "secret": "hook-token"}))
    url = hook_url("tok")
    token = SECRETS["hook-token"]

    missing = client.post(url, json={"a": 1})
    assert_problem(missing, 401, "unauthorized")
    wrong = client.post(url, json={"a": 2}, headers={"X-Plait-Token": token + "x"})
    assert_problem(wrong, 401, "unauthorized")
    empty = client.post(url, json={"a": 3}, headers={"X-Plait-Token": ""})
    assert_problem(empty, 401, "unauthorized")
    assert runs_of(ws, "tok") == []

    ok = client.post(url, json={"a": 4}, headers={"X-Plait-Token": token, "X-Other": "1"})
    assert ok.status_code == 202, ok.text
    run = finished(client, owner, ok.json()["run_id"])
    assert run["status"] == "succeeded"
    # the token never reaches the workflow (its input, steps or events)
    assert "x-plait-token" not in run["input"]["headers"]
    assert run["input"]["headers"]["x-other"] == "1"
    events = client.get(f"{API}/runs/{run['id']}/events", headers=owner).text
    assert token not in json.dumps(run) and token not in events


def test_header_token_in_a_custom_header(client: TestClient, owner: dict[str, str]) -> None:
    config = {"auth": "header", "secret": "hook-token", "header_name": "X-Hook-Key"}
    save(client, owner, hook_dsl("custom", config))
    url = hook_url("custom")
    token = SECRETS["hook-token"]
    assert_problem(client.post(url, json={}, headers={"X-Plait-Token": token}), 401)
    ok = client.post(url, json={}, headers={"x-hook-key": token})
    assert ok.status_code == 202
    run = finished(client, owner, ok.json()["run_id"])
    assert "x-hook-key" not in run["input"]["headers"]


# -- auth: hmac --------------------------------------------------------------------------------


def signed(body: bytes, *, secret: str = SECRETS["hook-hmac"], at: float | None = None) -> dict:
    stamp = str(int(time.time() if at is None else at))
    return {
        "Content-Type": "application/json",
        "X-Plait-Timestamp": stamp,
        "X-Plait-Signature": "sha256=" + sign(secret.encode(), stamp, body),
    }


@pytest.fixture
def hmac_hook(client: TestClient, owner: dict[str, str]) -> str:
    config = {"auth": "hmac", "secret": "hook-hmac", "replay_window_s": 60}
    save(client, owner, hook_dsl("signed", config))
    return hook_url("signed")


def test_hmac_valid_signature(client: TestClient, owner: dict[str, str], hmac_hook: str) -> None:
    body = b'{"event": "paid"}'
    resp = client.post(hmac_hook, content=body, headers=signed(body))
    assert resp.status_code == 202, resp.text
    run = finished(client, owner, resp.json()["run_id"])
    assert run["status"] == "succeeded" and run["input"]["payload"] == {"event": "paid"}
    # a bare hex signature (no "sha256=" prefix) is accepted too
    body2 = b'{"event": "refunded"}'
    headers = signed(body2)
    headers["X-Plait-Signature"] = headers["X-Plait-Signature"].removeprefix("sha256=")
    assert client.post(hmac_hook, content=body2, headers=headers).status_code == 202
    # a recent timestamp inside the window is fine
    body3 = b'{"event": "late"}'
    late = client.post(hmac_hook, content=body3, headers=signed(body3, at=time.time() - 30))
    assert late.status_code == 202


def test_hmac_refusals(
    client: TestClient, ws: Workspace, owner: dict[str, str], hmac_hook: str
) -> None:
    body = b'{"event": "paid"}'
    # signed with another secret
    resp = client.post(hmac_hook, content=body, headers=signed(body, secret="guess"))
    assert_problem(resp, 401, "bad_signature")
    # the signature of another body
    headers = signed(b'{"event": "other"}')
    assert_problem(client.post(hmac_hook, content=body, headers=headers), 401, "bad_signature")
    # the timestamp was changed after signing
    headers = signed(body)
    headers["X-Plait-Timestamp"] = str(int(headers["X-Plait-Timestamp"]) + 1)
    assert_problem(client.post(hmac_hook, content=body, headers=headers), 401, "bad_signature")
    # outside the replay window, either way
    for at in (time.time() - 120, time.time() + 120):
        resp = client.post(hmac_hook, content=body, headers=signed(body, at=at))
        assert_problem(resp, 401, "stale_signature")
    # no timestamp / a malformed one
    headers = signed(body)
    del headers["X-Plait-Timestamp"]
    assert_problem(client.post(hmac_hook, content=body, headers=headers), 401, "bad_signature")
    for stamp in ("soon", "", "nan", "inf", "-inf"):
        headers = signed(body)
        headers["X-Plait-Timestamp"] = stamp
        headers["X-Plait-Signature"] = sign(SECRETS["hook-hmac"].encode(), stamp, body)
        resp = client.post(hmac_hook, content=body, headers=headers)
        assert resp.status_code == 401, (stamp, resp.text)
    # no signature at all
    resp = client.post(hmac_hook, content=body, headers={"Content-Type": "application/json"})
    assert_problem(resp, 401, "unauthorized")
    assert runs_of(ws, "signed") == []


def test_a_secret_the_server_does_not_have_is_refused(
    client: TestClient, ws: Workspace, owner: dict[str, str]
) -> None:
    """A workflow naming a secret this server lacks never accepts anything (not even an
    empty signature, or one made with an empty key)."""
    save(client, owner, hook_dsl("nosecret", {"auth": "hmac", "secret": "not-configured"}))
    save(client, owner, hook_dsl("notoken", {"auth": "header", "secret": "not-configured"}))
    body = b'{"x": 1}'
    for secret in ("", "not-configured", SECRETS["hook-hmac"]):
        resp = client.post(hook_url("nosecret"), content=body, headers=signed(body, secret=secret))
        assert_problem(resp, 401, "secret_missing")
    for token in ("", "x", "None", "not-configured"):
        resp = client.post(hook_url("notoken"), json={}, headers={"X-Plait-Token": token})
        assert resp.status_code == 401
    assert runs_of(ws, "nosecret") == [] and runs_of(ws, "notoken") == []


def test_hmac_with_a_stored_credential_of_the_owner(
    client: TestClient, ws: Workspace, callers: Callers, owner: dict[str, str]
) -> None:
    """The trigger's `secret` names a credential: the workflow owner's own (or an unowned,
    workspace-wide one) signs; another member's credential of that name is not usable."""
    alice, bob = callers.alice.user.id, callers.bob.user.id
    ws.credentials.create("alice-hmac", "token", "alice-signing-secret", owner=alice)
    ws.credentials.create("shared-hmac", "token", "workspace-signing-secret")
    ws.credentials.create("bob-hmac", "token", "bob-signing-secret", owner=bob)
    for slug, name in [("own", "alice-hmac"), ("shared", "shared-hmac"), ("theirs", "bob-hmac")]:
        save(client, owner, hook_dsl(slug, {"auth": "hmac", "secret": name}))
    body = b'{"event": "paid"}'
    ok = client.post(
        hook_url("own"), content=body, headers=signed(body, secret="alice-signing-secret")
    )
    assert ok.status_code == 202, ok.text
    wrong = client.post(hook_url("own"), content=body, headers=signed(body, secret="guess"))
    assert_problem(wrong, 401, "bad_signature")
    shared = signed(body, secret="workspace-signing-secret")
    assert client.post(hook_url("shared"), content=body, headers=shared).status_code == 202
    stolen = signed(body, secret="bob-signing-secret")
    assert_problem(
        client.post(hook_url("theirs"), content=body, headers=stolen), 401, "secret_missing"
    )
    assert runs_of(ws, "theirs") == []


# -- dedupe ------------------------------------------------------------------------------------


def test_dedupe_by_body_hash(client: TestClient, ws: Workspace, owner: dict[str, str]) -> None:
    save(client, owner, hook_dsl("dd"))
    first = client.post(hook_url("dd"), json={"id": 1})
    assert first.status_code == 202 and "duplicate" not in first.json()
    again = client.post(hook_url("dd"), json={"id": 1})
    assert again.status_code == 202
    assert again.json()["run_id"] == first.json()["run_id"]
    assert again.json()["duplicate"] is True
    other = client.post(hook_url("dd"), json={"id": 2})
    assert other.json()["run_id"] != first.json()["run_id"] and "duplicate" not in other.json()
    finished(client, owner, other.json()["run_id"])
    finished(client, owner, first.json()["run_id"])
    assert len(runs_of(ws, "dd")) == 2


def test_dedupe_by_event_id_header(
    client: TestClient, ws: Workspace, owner: dict[str, str]
) -> None:
    save(client, owner, hook_dsl("evid", {"dedupe_header": "X-Event-Id"}))
    url = hook_url("evid")
    first = client.post(url, json={"v": 1}, headers={"X-Event-Id": "evt-1"})
    # the same event id with another body (a retried delivery with a new timestamp field)
    again = client.post(url, json={"v": 1, "retry": 2}, headers={"X-Event-Id": "evt-1"})
    assert again.json() == {**first.json(), "duplicate": True, "status": again.json()["status"]}
    # another event id with the same body is a new event
    second = client.post(url, json={"v": 1}, headers={"X-Event-Id": "evt-2"})
    assert second.json()["run_id"] != first.json()["run_id"]
    assert "duplicate" not in second.json()
    for resp in (first, second):
        finished(client, owner, resp.json()["run_id"])
    runs = runs_of(ws, "evid")
    assert len(runs) == 2
    assert {r.input["payload"]["v"] for r in runs} == {1}
    assert all("retry" not in r.input["payload"] for r in runs)


def test_a_replayed_signed_delivery_inside_the_window_is_a_duplicate(
    client: TestClient, ws: Workspace, owner: dict[str, str], hmac_hook: str
) -> None:
    body = b'{"event": "paid", "id": 7}'
    headers = signed(body)
    first = client.post(hmac_hook, content=body, headers=headers)
    replay = client.post(hmac_hook, content=body, headers=headers)
    assert replay.json()["run_id"] == first.json()["run_id"] and replay.json()["duplicate"]
    finished(client, owner, first.json()["run_id"])
    assert len(runs_of(ws, "signed")) == 1


# -- requests the receiver refuses -------------------------------------------------------------


def test_methods(client: TestClient, ws: Workspace, owner: dict[str, str]) -> None:
    save(client, owner, hook_dsl("posts"))
    save(client, owner, hook_dsl("gets", {"methods": ["GET", "PUT"]}))
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        resp = client.request(method, hook_url("posts"))
        assert_problem(resp, 405, "method_not_allowed")
    assert_problem(client.post(hook_url("gets"), json={}), 405, "method_not_allowed")
    resp = client.get(hook_url("gets") + "?q=1")
    assert resp.status_code == 202
    run = finished(client, owner, resp.json()["run_id"])
    assert run["input"]["payload"] is None and run["input"]["query"] == {"q": "1"}
    assert client.put(hook_url("gets"), json={"k": 1}).status_code == 202
    # a method the route does not know at all is still a problem
    assert_problem(client.request("OPTIONS", hook_url("gets")), 405)
    assert runs_of(ws, "posts") == []


def test_body_over_the_limit(client: TestClient, ws: Workspace, owner: dict[str, str]) -> None:
    save(client, owner, hook_dsl("big"))
    url = hook_url("big")
    big = b'{"x": "' + b"a" * MAX_BODY + b'"}'
    assert_problem(client.post(url, content=big), 413, "payload_too_large")
    # without a Content-Length (chunked), the limit still holds

    def chunks() -> Any:
        for _ in range(8):
            yield b"a" * (MAX_BODY // 4)

    assert_problem(client.post(url, content=chunks()), 413, "payload_too_large")
    # exactly at the limit is fine
    exact = b'"' + b"a" * (MAX_BODY - 2) + b'"'
    resp = client.post(url, content=exact, headers={"Content-Type": "application/json"})
    assert resp.status_code == 202
    finished(client, owner, resp.json()["run_id"])
    assert len(runs_of(ws, "big")) == 1


def test_bad_json(client: TestClient, ws: Workspace, owner: dict[str, str]) -> None:
    save(client, owner, hook_dsl("bj"))
    resp = client.post(
        hook_url("bj"), content=b'{"a": ', headers={"Content-Type": "application/json"}
    )
    assert_problem(resp, 400, "bad_json")
    # no content type, but it looks like JSON
    assert_problem(client.post(hook_url("bj"), content=b"[1, 2"), 400, "bad_json")
    assert runs_of(ws, "bj") == []


def test_authentication_comes_before_parsing(client: TestClient, owner: dict[str, str]) -> None:
    save(client, owner, hook_dsl("guarded", {"auth": "header", "secret": "hook-token"}))
    resp = client.post(
        hook_url("guarded"), content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert_problem(resp, 401, "unauthorized")


def test_unknown_workflow_or_trigger(client: TestClient, owner: dict[str, str]) -> None:
    save(client, owner, hook_dsl("known"))
    assert_problem(client.post(hook_url("unknown"), json={}), 404, "workflow_not_found")
    assert_problem(client.post(hook_url("known", "nope"), json={}), 404, "trigger_not_found")
    # a node that is not a webhook trigger
    assert_problem(client.post(hook_url("known", "seen"), json={}), 404, "trigger_not_found")
    # a workflow without a webhook trigger
    save(client, owner, slow_dsl("manual-only", seconds=0.01))
    resp = client.post(hook_url("manual-only", "trigger_manual"), json={})
    assert_problem(resp, 404, "trigger_not_found")
    # saved but never published
    save(client, owner, hook_dsl("unpublished"), publish=False)
    assert_problem(client.post(hook_url("unpublished"), json={}), 404)


# -- sync mode ---------------------------------------------------------------------------------


def test_sync_mode_answers_with_the_output(
    client: TestClient, ws: Workspace, owner: dict[str, str]
) -> None:
    save(client, owner, hook_dsl("now", {"mode": "sync"}))
    resp = client.post(hook_url("now"), json={"q": "ping"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "succeeded"
    assert body["output"]["text"] == "got {'q': 'ping'}"
    assert "error" not in body
    run = client.get(f"{API}/runs/{body['run_id']}", headers=owner).json()
    assert run["output"] == body["output"]
    # a duplicate delivery does not wait again: it names the first run
    again = client.post(hook_url("now"), json={"q": "ping"})
    assert again.json()["run_id"] == body["run_id"] and again.json()["duplicate"] is True
    assert len(runs_of(ws, "now")) == 1


def test_sync_mode_times_out_to_202(client: TestClient, owner: dict[str, str]) -> None:
    save(client, owner, hook_dsl("slowsync", {"mode": "sync", "sync_timeout_s": 0.2}, sleep_s=1))
    resp = client.post(hook_url("slowsync"), json={"q": 1})
    assert resp.status_code == 202
    assert resp.json()["status"] in {"queued", "running"} and "output" not in resp.json()
    run = finished(client, owner, resp.json()["run_id"])
    assert run["status"] == "succeeded"


def test_sync_mode_reports_a_failed_run(client: TestClient, owner: dict[str, str]) -> None:
    text = hook_dsl("breaks", {"mode": "sync"}).replace(
        "'payload': trigger.payload", "'payload': trigger.payload.missing.deeper"
    )
    save(client, owner, text)
    resp = client.post(hook_url("breaks"), json={"q": 1})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "failed" and body["error"]["code"]
