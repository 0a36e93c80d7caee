"""Human-in-the-loop for real: ``plait api`` + two ``plait worker`` subprocesses on real Redis.
A start gate holds the run before any work; a ``request_revision`` answered over REST sends the
run back to its draft step, which a worker runs again with the feedback; the human is asked
again and the approval finishes the run."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.runtime.conftest import Service

pytestmark = pytest.mark.timeout(180)

REVIEWED = """
name: Reviewed post
slug: reviewed
trigger: manual
steps:
  - {id: go, type: human, message: "Write about {{ trigger.topic }}?", approve_to_start: true}
  - id: research
    type: code
    code: |
      return {"facts": trigger["topic"].upper()}
  - id: draft
    type: code
    code: |
      note = revision["feedback"] or "first"
      return {"text": f"{research['facts']} v{revision['round']} ({note})"}
  - id: review
    type: human
    message: "{{ draft.text }}"
    options: [approve, reject, request_revision]
    revision_target: draft
  - {id: publish, type: transform, template: "published {{ draft.text }}"}
"""


def _wait(api: httpx.Client, run_id: str, statuses: set[str], timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = api.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] in statuses and (run["status"] != "waiting" or run["pending"]):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} still {run.get('status')} after {timeout_s} s")


def _answer(api: httpx.Client, run: dict[str, Any], answer: Any) -> None:
    (req,) = run["pending"]["requests"]
    r = api.post(f"/api/v1/runs/{run['id']}/resume", json={"token": req["token"], "answer": answer})
    assert r.status_code in (200, 202), r.text


def _question(run: dict[str, Any]) -> tuple[str, str]:
    (req,) = run["pending"]["requests"]
    return req["node_id"], req["request"]["message"]


def _next(api: httpx.Client, run: dict[str, Any], timeout_s: float = 60) -> dict[str, Any]:
    """The run once it asks something else than ``run`` asked (or ended)."""
    asked = run["pending"]["requests"][0]["token"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = _wait(api, run["id"], {"waiting", "succeeded", "failed", "cancelled"}, timeout_s)
        if now["status"] != "waiting" or now["pending"]["requests"][0]["token"] != asked:
            return now
        time.sleep(0.1)
    raise AssertionError(f"run {run['id']} still asks the same after {timeout_s} s")


def test_a_revision_round_over_real_workers(service: Service) -> None:
    service.worker("w1")
    service.worker("w2")
    service.wait_ready(workers=2)
    with service.client() as api:
        r = api.post("/api/v1/workflows", json={"dsl": REVIEWED, "publish": True})
        assert r.status_code == 201, r.text
        r = api.post("/api/v1/workflows/reviewed/runs", json={"input": {"topic": "tides"}})
        assert r.status_code == 202, r.text
        run_id = r.json()["run_id"]

        run = _wait(api, run_id, {"waiting"}, timeout_s=60)
        assert _question(run) == ("go", "Write about tides?")
        assert {s["node_id"] for s in run["steps"]} == {"trigger_manual", "go"}  # no work yet
        _answer(api, run, "approve")

        run = _next(api, run)
        assert run["status"] == "waiting", run
        assert _question(run) == ("review", "TIDES v0 (first)")
        _answer(api, run, {"action": "request_revision", "feedback": "add dates"})

        run = _next(api, run)
        assert run["status"] == "waiting", run
        assert _question(run) == ("review", "TIDES v1 (add dates)")
        assert run["pending"]["requests"][0]["request"]["revision_round"] == 1
        _answer(api, run, {"action": "approve", "answered_by": "ada"})

        done = _next(api, run)
        assert done["status"] == "succeeded", done
        assert done["output"] == {"output": "published TIDES v1 (add dates)"}
        steps = {(s["node_id"], s["iteration"]) for s in done["steps"]}
        assert ("draft", "revision[1]") in steps and ("review", "revision[1]") in steps
        assert ("research", "revision[1]") not in steps
        events = api.get(f"/api/v1/runs/{run_id}/events").json()["items"]
        started = [e["node_id"] for e in events if e["type"] == "node_started"]
        assert started.count("research") == 1  # upstream reused in the second round
        (revision,) = [e for e in events if e["type"] == "revision_requested"]
        assert revision["node_id"] == "review"
        assert revision["data"]["target"] == "draft" and revision["data"]["round"] == 1
        assert revision["data"]["feedback"] == "add dates"
        logs = "".join(p.read_text() for p in service.folder.glob("*.log"))
        assert "Traceback" not in logs
