"""``plait schedules`` and ``plait scheduler`` (inline: no Redis) in subprocesses on a real
SQLite workspace."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_cli import Plait
from workspace.runtime.workspace import Workspace

SCHEDULED = """
name: Heartbeat
slug: heartbeat
trigger:
  type: schedule
  id: beat
  interval_s: {interval}
  payload: {{kind: heartbeat}}
steps:
  - id: echo
    type: transform
    template: "{{{{ trigger }}}}"
"""


@pytest.fixture
def plait(tmp_path: Path) -> Plait:
    return Plait(tmp_path)


def _publish(plait: Plait, interval: float) -> None:
    path = plait.workdir / "heartbeat.yaml"
    path.write_text(SCHEDULED.format(interval=interval))
    out = plait("import", str(path))
    assert out.returncode == 0, out.stderr


def _schedules(plait: Plait, *args: str) -> list[dict[str, object]]:
    out = plait("schedules", "--json", *args)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_list_pause_resume_run_now(plait: Plait) -> None:
    _publish(plait, 3600)
    [sch] = _schedules(plait)
    assert sch["workflow_slug"] == "heartbeat" and sch["trigger_id"] == "beat"
    assert sch["config"]["interval_s"] == 3600  # type: ignore[index]
    text = plait("schedules").stdout
    assert f"{sch['id']}  heartbeat/beat  every 3600s  active" in text

    out = plait("schedules", "pause", str(sch["id"]))
    assert out.returncode == 0 and "paused" in out.stdout
    assert _schedules(plait, "--workflow", "heartbeat")[0]["paused"] is True
    out = plait("schedules", "resume", str(sch["id"]))
    assert out.returncode == 0 and "next fire" in out.stdout

    out = plait("schedules", "run-now", str(sch["id"]))
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip()
    shown = plait("show", run_id, "--json")
    assert json.loads(shown.stdout)["status"] == "succeeded", shown.stdout
    assert _schedules(plait)[0]["last_run_id"] == run_id

    missing = plait("schedules", "pause", "nope")
    assert missing.returncode == 4 and "schedule_not_found" in missing.stderr


def test_the_scheduler_alone_fires_inline(plait: Plait) -> None:
    """No Redis: `plait scheduler` holds a local lock and drives its runs itself."""
    _publish(plait, 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    env["PLAIT_SCHEDULER__TICK_S"] = "0.2"
    log = (plait.workdir / "scheduler.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workspace.cli.main",
            "--dir",
            str(plait.workdir / "ws"),
            "scheduler",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        done: list[object] = []
        while time.monotonic() < deadline and len(done) < 2:
            time.sleep(0.5)
            with Workspace.open(plait.workdir / "ws", inline=True) as ws:
                done = [r for r in ws.runs("heartbeat") if r.status.value == "succeeded"]
        assert len(done) >= 2, (plait.workdir / "scheduler.log").read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
    assert proc.returncode == 0, (plait.workdir / "scheduler.log").read_text()
