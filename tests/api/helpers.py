"""Small helpers shared by the API tests (no fixtures here)."""

from __future__ import annotations

import json
import textwrap
import threading
import time
from typing import Any

import httpx
from fastapi.testclient import TestClient

API = "/api/v1"
PROBLEM = "application/problem+json"
STABLE = {"succeeded", "failed", "cancelled", "waiting", "paused"}


def dsl(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def assert_problem(resp: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with Plait's ``code``; returns its body."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM), resp.headers
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["detail"], str) and body["detail"]
    if code is not None:
        assert body["code"] == code, body
    return body


def save(
    client: TestClient, headers: dict[str, str], text: str, *, publish: bool = True
) -> dict[str, Any]:
    resp = client.post(f"{API}/workflows", json={"dsl": text, "publish": publish}, headers=headers)
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


def start(
    client: TestClient, headers: dict[str, str], slug: str, input: Any = None, *, wait: bool = True
) -> dict[str, Any]:
    resp = client.post(
        f"{API}/workflows/{slug}/runs",
        json={"input": input, "wait": wait, "timeout_s": 20},
        headers=headers,
    )
    assert resp.status_code == 202, resp.text
    run: dict[str, Any] = resp.json()["run"]
    return run


def wait_run(
    client: TestClient,
    headers: dict[str, str],
    run_id: str,
    statuses: set[str] = STABLE,
    timeout_s: float = 20.0,
) -> dict[str, Any]:
    """Poll ``GET /runs/{id}`` until the run's status is one of ``statuses``."""
    deadline = time.monotonic() + timeout_s
    while True:
        resp = client.get(f"{API}/runs/{run_id}", headers=headers)
        assert resp.status_code == 200, resp.text
        run: dict[str, Any] = resp.json()
        if run["status"] in statuses:
            return run
        assert time.monotonic() < deadline, f"run stuck in {run['status']}"
        time.sleep(0.05)


def parse_sse(text: str) -> list[dict[str, Any]]:
    """SSE frames as ``{"id", "event", "data"}`` (comments and keep-alives dropped)."""
    frames = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        if fields:
            frames.append(
                {"id": fields["id"], "event": fields["event"], "data": json.loads(fields["data"])}
            )
    return frames


def echo_dsl(slug: str = "echo", extra: str = "") -> str:
    """A manual workflow: a transform then a reply quoting the input."""
    return dsl(
        f"""
        name: Echo {slug}
        slug: {slug}
        description: echoes its input
        trigger: manual
        steps:
          - id: shape
            type: transform
            template: "{{{{ {{'n': trigger.n, 'double': (trigger.n or 0) * 2}} }}}}"
          - id: answer
            type: reply
            text: "n={{{{ shape.output.n }}}} double={{{{ shape.output.double }}}}{extra}"
        """
    )


def slow_dsl(slug: str = "slow", seconds: float = 0.6) -> str:
    """A manual workflow whose first step sleeps (the ``test_sleep`` test node type)."""
    return dsl(
        f"""
        name: Slow {slug}
        slug: {slug}
        trigger: manual
        steps:
          - id: nap
            type: test_sleep
            seconds: {seconds}
          - id: after
            type: transform
            template: "{{{{ {{'woke': true}} }}}}"
          - id: answer
            type: reply
            text: "done"
        """
    )


def join_driver(run_id: str, timeout_s: float = 10.0) -> None:
    """Wait until the in-process thread driving the run has returned (inline workspaces)."""
    for t in threading.enumerate():
        if t.name == f"plait-run-{run_id}":
            t.join(timeout_s)
            assert not t.is_alive(), f"the driver of run {run_id} did not stop"
