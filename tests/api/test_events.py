"""A run's events: JSON pages, Server-Sent Events (resumable) and the WebSocket."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.api.conftest import MAX_PAGE, Callers
from tests.api.helpers import (
    API,
    assert_problem,
    echo_dsl,
    parse_sse,
    save,
    slow_dsl,
    start,
)

SSE = {"Accept": "text/event-stream"}


@pytest.fixture
def done_run(client: TestClient, callers: Callers) -> dict[str, Any]:
    save(client, callers.alice.headers, echo_dsl())
    return start(client, callers.alice.headers, "echo", {"n": 3})


def _json_events(client: TestClient, h: dict[str, str], run_id: str, query: str = "") -> list[Any]:
    resp = client.get(f"{API}/runs/{run_id}/events{query}", headers=h)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    items: list[Any] = resp.json()["items"]
    return items


def test_events_as_a_json_page(
    client: TestClient, callers: Callers, done_run: dict[str, Any]
) -> None:
    h = callers.alice.headers
    events = _json_events(client, h, done_run["id"])
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(events) + 1))
    assert events[0]["type"] == "run_queued" and events[-1]["type"] == "run_succeeded"
    for ev in events:
        assert set(ev) >= {"seq", "run_id", "workflow", "version", "type", "node_id", "ts", "data"}
        assert ev["run_id"] == done_run["id"] and ev["workflow"] == "echo"
    rest = _json_events(client, h, done_run["id"], "?after=3")
    assert rest == events[3:]
    assert _json_events(client, h, done_run["id"], f"?after={len(events)}") == []
    assert_problem(client.get(f"{API}/runs/{done_run['id']}/events?after=-1", headers=h), 422)


def test_events_json_page_is_bounded_by_the_max_page_size(
    client: TestClient, callers: Callers
) -> None:
    h = callers.alice.headers
    steps = "\n".join(
        f'  - {{id: s{i}, type: transform, template: "{{{{ {i} }}}}"}}' for i in range(12)
    )
    text = f"name: Long\nslug: long\ntrigger: manual\nsteps:\n{steps}\n"
    save(client, h, text)
    run = start(client, h, "long")
    assert run["status"] == "succeeded"
    first = _json_events(client, h, run["id"])
    assert len(first) == MAX_PAGE
    rest = _json_events(client, h, run["id"], f"?after={first[-1]['seq']}")
    assert rest and rest[0]["seq"] == MAX_PAGE + 1 and rest[-1]["type"] == "run_succeeded"


def test_sse_of_a_finished_run_ends_after_the_final_event(
    client: TestClient, callers: Callers, done_run: dict[str, Any]
) -> None:
    h = callers.alice.headers
    expected = _json_events(client, h, done_run["id"])
    resp = client.get(f"{API}/runs/{done_run['id']}/events", headers={**h, **SSE})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["cache-control"] == "no-cache"
    frames = parse_sse(resp.text)
    assert [int(f["id"]) for f in frames] == [e["seq"] for e in expected]
    assert [f["event"] for f in frames] == [e["type"] for e in expected]
    assert [f["data"] for f in frames] == expected
    assert frames[-1]["event"] == "run_succeeded"


def test_sse_resumes_after_a_seq_or_the_last_event_id(
    client: TestClient, callers: Callers, done_run: dict[str, Any]
) -> None:
    h = {**callers.alice.headers, **SSE}
    all_seqs = [e["seq"] for e in _json_events(client, callers.alice.headers, done_run["id"])]
    url = f"{API}/runs/{done_run['id']}/events"
    by_query = parse_sse(client.get(f"{url}?after=4", headers=h).text)
    assert [int(f["id"]) for f in by_query] == all_seqs[4:]
    by_header = parse_sse(client.get(url, headers={**h, "Last-Event-ID": "4"}).text)
    assert by_header == by_query
    # ?after wins over the header
    both = parse_sse(client.get(f"{url}?after=6", headers={**h, "Last-Event-ID": "2"}).text)
    assert [int(f["id"]) for f in both] == all_seqs[6:]
    # resuming after the final event: nothing more, and the stream still ends
    last = all_seqs[-1]
    assert parse_sse(client.get(url, headers={**h, "Last-Event-ID": str(last)}).text) == []
    # a malformed Last-Event-ID starts from the beginning
    fresh = parse_sse(client.get(url, headers={**h, "Last-Event-ID": "x"}).text)
    assert [int(f["id"]) for f in fresh] == all_seqs


def test_sse_follows_a_live_run_until_it_ends(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    save(client, h, slow_dsl(seconds=0.4))
    run = start(client, h, "slow", wait=False)
    seen: list[dict[str, Any]] = []
    with client.stream("GET", f"{API}/runs/{run['id']}/events", headers={**h, **SSE}) as resp:
        assert resp.status_code == 200
        text = "".join(resp.iter_text())
    seen = parse_sse(text)
    seqs = [int(f["id"]) for f in seen]
    assert seqs == list(range(1, len(seqs) + 1))
    assert seen[-1]["event"] == "run_succeeded"
    stored = _json_events(client, h, run["id"])
    assert [f["data"] for f in seen] == stored


def test_sse_without_follow_returns_the_stored_events_and_ends(
    client: TestClient, callers: Callers
) -> None:
    """``follow=false`` never waits for more (a waiting run would otherwise never end)."""
    h = callers.alice.headers
    from tests.api.test_runs import EXAMPLES

    save(client, h, (EXAMPLES / "human_approval.yaml").read_text())
    run = start(client, h, "expense-approval", {"amount": 1, "employee": "x"})
    assert run["status"] == "waiting"
    url = f"{API}/runs/{run['id']}/events?follow=false"
    frames = parse_sse(client.get(url, headers={**h, **SSE}).text)
    stored = _json_events(client, h, run["id"])
    assert [f["data"] for f in frames] == stored
    assert frames[-1]["event"] == "human_requested" or frames[-1]["event"].startswith("node_")
    tail = parse_sse(client.get(f"{url}&after=2", headers={**h, **SSE}).text)
    assert [f["data"] for f in tail] == stored[2:]


# -- WebSocket ---------------------------------------------------------------------------------


def _ws_url(run_id: str, after: int | None = None) -> str:
    url = f"{API}/runs/{run_id}/events/ws"
    return url if after is None else f"{url}?after={after}"


def _drain(ws: Any) -> list[dict[str, Any]]:
    out = []
    while True:
        try:
            out.append(json.loads(ws.receive_text()))
        except WebSocketDisconnect as exc:
            assert exc.code == 1000
            return out


def test_websocket_streams_to_the_owner_with_a_token_message(
    client: TestClient, callers: Callers, done_run: dict[str, Any]
) -> None:
    expected = _json_events(client, callers.alice.headers, done_run["id"])
    with client.websocket_connect(_ws_url(done_run["id"])) as ws:
        ws.send_text(json.dumps({"token": callers.alice.secret}))
        got = _drain(ws)
    assert got == expected
    with client.websocket_connect(_ws_url(done_run["id"], after=5)) as ws:
        ws.send_json({"token": callers.alice.secret})
        assert _drain(ws) == expected[5:]


def test_websocket_accepts_an_authorization_header(
    client: TestClient, callers: Callers, done_run: dict[str, Any]
) -> None:
    expected = _json_events(client, callers.alice.headers, done_run["id"])
    with client.websocket_connect(_ws_url(done_run["id"]), headers=callers.admin.headers) as ws:
        assert _drain(ws) == expected


def test_websocket_follows_a_live_run(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    save(client, h, slow_dsl(seconds=0.4))
    run = start(client, h, "slow", wait=False)
    with client.websocket_connect(_ws_url(run["id"]), headers=h) as ws:
        got = _drain(ws)
    assert [e["seq"] for e in got] == list(range(1, len(got) + 1))
    assert got[-1]["type"] == "run_succeeded"


def _refused(client: TestClient, url: str, first: Any, headers: Any = None) -> tuple[Any, int]:
    with client.websocket_connect(url, headers=headers or {}) as ws:
        if first is not None:
            if isinstance(first, bytes):
                ws.send_bytes(first)
            else:
                ws.send_text(first)
        message = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    return message, closed.value.code


@pytest.mark.parametrize(
    "first",
    [
        json.dumps({}),
        json.dumps({"token": ""}),
        json.dumps({"token": "plait_000000000000_forged"}),
        json.dumps({"token": 12345}),
        json.dumps({"token": ["x"]}),
        json.dumps(["token"]),
        "not json at all",
        b"\x00binary",
    ],
)
def test_websocket_refuses_unauthenticated_subscriptions(
    client: TestClient, done_run: dict[str, Any], first: Any
) -> None:
    message, code = _refused(client, _ws_url(done_run["id"]), first)
    assert message["error"] == "unauthorized" and message["detail"]
    assert code == 4401


def test_websocket_refuses_a_revoked_or_bad_header_key(
    client: TestClient, ws: Any, callers: Callers, done_run: dict[str, Any]
) -> None:
    bad = {"Authorization": "Bearer plait_000000000000_forged"}
    message, code = _refused(client, _ws_url(done_run["id"]), None, headers=bad)
    assert (message["error"], code) == ("unauthorized", 4401)
    ws.store.access.revoke_key(callers.alice.key.id)
    message, code = _refused(
        client, _ws_url(done_run["id"]), json.dumps({"token": callers.alice.secret})
    )
    assert (message["error"], code) == ("unauthorized", 4401)


def test_websocket_refuses_other_users_runs(
    client: TestClient, callers: Callers, done_run: dict[str, Any]
) -> None:
    message, code = _refused(
        client, _ws_url(done_run["id"]), json.dumps({"token": callers.bob.secret})
    )
    assert message["error"] == "run_not_found" and code == 4404
    message, code = _refused(client, _ws_url("no-such-run"), None, headers=callers.bob.headers)
    assert message["error"] == "run_not_found" and code == 4404


def test_websocket_client_leaving_before_authenticating_is_quiet(
    client: TestClient, done_run: dict[str, Any]
) -> None:
    with client.websocket_connect(_ws_url(done_run["id"])) as ws:
        ws.close()
    # the server is still fine
    assert client.get("/healthz").status_code == 200
