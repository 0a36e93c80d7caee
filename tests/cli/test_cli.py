"""The ``plait`` command end to end, in subprocesses, on a real SQLite workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


class Plait:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def __call__(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "workspace.cli.main", "--dir", str(self.workdir / "ws"), *args]
        return subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            input=input,
            timeout=120,
            cwd=self.workdir,
            env={**os.environ, "PYTHONWARNINGS": "error"},
        )


@pytest.fixture
def plait(tmp_path: Path) -> Plait:
    return Plait(tmp_path)


def test_webhook_triage_example(plait: Plait) -> None:
    payload = {"payload": {"type": "bug", "severity": 9, "title": "Checkout is down"}}
    out = plait(
        "run", str(EXAMPLES / "webhook_triage.yaml"), "--input", json.dumps(payload), "--json"
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "succeeded"
    assert result["output"]["text"] == "page P1 in oncall: Checkout is down"
    statuses = {s["node_id"]: s["status"] for s in result["steps"]}
    assert statuses["file_bug"] == "skipped" and statuses["acknowledge"] == "skipped"
    assert set(result) >= {"run_id", "status", "output", "steps"}

    low = plait(
        "run", "webhook-triage", "--input", json.dumps({"payload": {"type": "question"}}), "--json"
    )
    assert json.loads(low.stdout)["output"]["text"] == "ack P4 in inbox: untitled"


def test_order_digest_example(plait: Plait) -> None:
    orders = {"orders": [{"id": 1, "total": 250}, {"id": 2, "total": 40}, {"id": 3, "total": 120}]}
    out = plait("run", str(EXAMPLES / "order_digest.yaml"), "--input", json.dumps(orders), "--json")
    assert out.returncode == 0, out.stderr
    output = json.loads(out.stdout)["output"]["output"]
    assert output["results"] == [
        {"id": 1, "total_with_tax": 300.0},
        {"id": 3, "total_with_tax": 144.0},
    ]
    assert output["count"] == 2 and output["sum"] == 444.0


def test_human_example_waits_then_resumes(plait: Plait) -> None:
    out = plait(
        "run",
        str(EXAMPLES / "human_approval.yaml"),
        "--inline",
        "--input",
        json.dumps({"amount": 1200, "employee": "ana"}),
        "--json",
    )
    assert out.returncode == 3, out.stderr
    waiting = json.loads(out.stdout)
    assert waiting["status"] == "waiting"
    assert waiting["pending"][0]["request"]["message"] == "Approve an expense of 1200 EUR for ana?"

    done = plait("resume", waiting["run_id"], "--answer", "approve", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"]["text"] == "Paid 1200 EUR to ana."

    again = plait("resume", waiting["run_id"], "--answer", "approve")
    assert again.returncode == 2 and "no open request" in again.stderr

    shown = plait("show", waiting["run_id"], "--json", "--events")
    events = [e["type"] for e in json.loads(shown.stdout)["events"]]
    assert events[0] == "run_queued" and events[-1] == "run_succeeded"
    assert "human_requested" in events and "human_answered" in events

    listed = plait("runs", "--workflow", "expense-approval")
    assert waiting["run_id"] in listed.stdout and "succeeded" in listed.stdout


def test_draft_review_example_gates_and_revises(plait: Plait) -> None:
    out = plait(
        "run",
        str(EXAMPLES / "draft_review.yaml"),
        "--inline",
        "--input",
        '{"topic": "tides"}',
        "--json",
    )
    assert out.returncode == 3, out.stderr
    run_id = json.loads(out.stdout)["run_id"]
    shown = plait("show", run_id).stdout
    assert "waiting at go: Write a note about tides?" in shown
    assert "approval to start the run (approve|reject); nothing has run yet" in shown

    out = plait("resume", run_id, "--answer", "approve")
    assert out.returncode == 3, out.stderr
    assert "waiting at review: Publish this? NOTE ON TIDES (first draft)" in out.stdout
    assert "revision round 0 of at most 3" in out.stdout

    out = plait("resume", run_id, "--answer", "request_revision")  # no feedback: asked again
    assert out.returncode == 3, out.stderr
    assert "previous answer refused: request_revision needs `feedback`" in out.stdout

    out = plait("resume", run_id, "--answer", "request_revision", "--feedback", "add the moon")
    assert out.returncode == 3, out.stderr
    assert "Publish this? NOTE ON TIDES (revised: add the moon)" in out.stdout
    assert "revision round 1 of at most 3" in out.stdout

    done = plait("resume", run_id, "--answer", "approve", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["output"]["text"] == "Published: NOTE ON TIDES (revised: add the moon)"
    assert [s["node_id"] for s in result["steps"]].count("research") == 1

    bad = plait("resume", run_id, "--answer", "[1]", "--feedback", "x")
    assert bad.returncode == 2  # no open request (and a list takes no feedback)


def test_a_start_rejected_from_the_cli_cancels_the_run(plait: Plait) -> None:
    example = str(EXAMPLES / "draft_review.yaml")
    out = plait("run", example, "--inline", "--input", '{"topic": "x"}', "--json")
    run_id = json.loads(out.stdout)["run_id"]
    out = plait("resume", run_id, "--answer", "reject", "--feedback", "not now", "--json")
    assert out.returncode == 1, out.stderr  # cancelled
    result = json.loads(out.stdout)
    assert result["status"] == "cancelled"
    assert result["output"]["feedback"] == "not now"
    assert [s["node_id"] for s in result["steps"]] == ["trigger_manual", "go"]


def test_fork_and_patch_example(plait: Plait) -> None:
    assert plait("import", str(EXAMPLES / "webhook_triage.yaml")).stdout.strip() == "webhook-triage"
    out = plait(
        "run",
        str(EXAMPLES / "triage_patched.yaml"),
        "--input",
        json.dumps({"payload": {"type": "bug", "severity": 6, "title": "Typo"}}),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["output"]["text"] == "page P2 in oncall: Typo"
    assert "audit" in [s["node_id"] for s in result["steps"]]


def test_failed_run_exits_1(plait: Plait, tmp_path: Path) -> None:
    wf = tmp_path / "fail.yaml"
    wf.write_text(
        "name: fail\ntrigger: manual\nsteps:\n  - {id: boom, type: code, code: 'return 1/0'}\n"
    )
    out = plait("run", str(wf), "--json")
    assert out.returncode == 1
    result = json.loads(out.stdout)
    assert result["status"] == "failed"
    error = result["steps"][-1]["error"]
    assert error["code"] == "code_error", error


def test_export_import_round_trip(plait: Plait, tmp_path: Path) -> None:
    slug = plait("import", str(EXAMPLES / "order_digest.yaml")).stdout.strip()
    exported = plait("export", slug)
    assert exported.returncode == 0, exported.stderr
    copy = tmp_path / "copy.yaml"
    copy.write_text(exported.stdout)
    again = plait("import", str(copy))
    assert again.returncode == 0, again.stderr
    assert "version 1 " in again.stderr  # identical graph: no new version
    as_json = json.loads(plait("export", slug, "--format", "json").stdout)
    assert as_json


def test_validate_reports_every_problem_with_positions(plait: Plait, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\n"
        "trigger: manual\n"
        "steps:\n"
        "  - {id: a, type: no_such_type}\n"
        "  - {id: a, type: transform, template: x}\n"
        "  - id: route\n"
        "    type: switch\n"
        "    rules: [{field: trigger.x, operator: equals, value: 1, route: nowhere}]\n"
        "  - {id: t, type: transform, template: '{{ broken '}\n"
        "  - {id: c, type: code, code: 'return 1', colour: red}\n"
    )
    out = plait("validate", str(bad), "--json")
    assert out.returncode == 2
    report = json.loads(out.stdout)
    assert report["valid"] is False
    codes = {e["code"] for e in report["errors"]}
    assert {
        "unknown_type",
        "duplicate_id",
        "dangling_reference",
        "template_syntax",
        "unknown_key",
    } <= codes
    assert all(e["line"] and e["column"] for e in report["errors"])
    human = plait("validate", str(bad))
    assert human.returncode == 2
    assert f"{bad}:4:" in human.stderr
    assert "Traceback" not in human.stderr


def test_yaml_syntax_error_is_not_a_traceback(plait: Plait, tmp_path: Path) -> None:
    bad = tmp_path / "syntax.yaml"
    bad.write_text("name: x\nsteps:\n  - id: a\n   type: code\n")
    for args in (("validate", str(bad)), ("run", str(bad)), ("import", str(bad))):
        out = plait(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert "Traceback" not in out.stderr and ":4:" in out.stderr


def test_cycle_without_loop_is_rejected(plait: Plait, tmp_path: Path) -> None:
    bad = tmp_path / "cycle.yaml"
    bad.write_text(
        "name: cyc\ntrigger: manual\nsteps:\n  - {id: a, type: transform, template: x}\n"
        "  - {id: b, type: transform, template: y}\nedges:\n  - {from: b, to: a}\n"
    )
    out = plait("validate", str(bad), "--json")
    assert out.returncode == 2
    assert "cycle" in {e["code"] for e in json.loads(out.stdout)["errors"]}


def test_node_types_lists_builtins(plait: Plait) -> None:
    out = plait("node-types", "--json")
    names = {t["name"] for t in json.loads(out.stdout)}
    assert {"switch", "code", "loop", "human", "http_request", "trigger_webhook"} <= names
    assert "switch" in plait("node-types").stdout


def test_missing_file_and_unknown_slug_are_clear(plait: Plait) -> None:
    out = plait("run", "nope.yaml")
    assert out.returncode == 2 and "cannot read" in out.stderr
    out = plait("run", "no-such-workflow")
    assert out.returncode == 4 and "Traceback" not in out.stderr


def test_show_says_what_a_waiting_run_waits_for(plait: Plait, tmp_path: Path) -> None:
    wf = tmp_path / "timed.yaml"
    wf.write_text(
        "name: timed\ntrigger: manual\nsteps:\n"
        '  - {id: ask, type: human, message: "Ship?", timeout_s: 600, on_timeout: reject}\n'
    )
    out = plait("run", str(wf), "--inline", "--json")
    assert out.returncode == 3, out.stderr
    waiting = json.loads(out.stdout)
    deadline = waiting["pending"][0]["deadline"]
    assert waiting["wake_at"] and deadline
    shown = plait("show", waiting["run_id"])
    assert shown.returncode == 0, shown.stderr
    assert f"waiting at ask: Ship? (times out {deadline})" in shown.stdout
    assert "wakes at " in shown.stdout
