"""SIGKILL during an inline run, then ``plait recover``: finished nodes do not run again."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

WORKFLOW = """
name: crashy
trigger: manual
steps:
  - id: first
    type: code
    code: |
      open(trigger["log"], "a").write("first\\n")
      return {"ok": 1}
  - id: slow
    type: code
    timeout_s: 60
    code: |
      import time
      with open(trigger["log"], "a") as fh:
          fh.write("slow\\n")
      if open(trigger["log"]).read().count("slow") == 1:
          time.sleep(30)  # only the first execution hangs; it gets killed
      return {"ok": 2}
  - id: last
    type: code
    code: |
      open(trigger["log"], "a").write("last\\n")
      return {"done": True}
"""


def _plait(*args: str, cwd: Path) -> list[str]:
    return [sys.executable, "-m", "workspace.cli.main", "--dir", str(cwd / "ws"), *args]


def test_sigkill_then_recover_continues_from_checkpoint(tmp_path: Path) -> None:
    wf = tmp_path / "crashy.yaml"
    wf.write_text(WORKFLOW)
    # code snippets run as an unprivileged user: give them a folder they may write to
    shared = Path(tempfile.mkdtemp(prefix="plait-recovery-"))
    shared.chmod(0o777)
    log = shared / "exec.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    payload = json.dumps({"log": str(log)})
    proc = subprocess.Popen(
        _plait("run", str(wf), "--input", payload, cwd=tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if log.exists() and "slow" in log.read_text():
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"run did not reach the slow node: {proc.communicate()}")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    assert log.read_text().split() == ["first", "slow"]

    runs = subprocess.run(
        _plait("runs", "--json", cwd=tmp_path), capture_output=True, text=True, env=env, check=True
    )
    (run,) = json.loads(runs.stdout)
    assert run["status"] == "running"  # the crash left it running

    # recovery re-runs only the node that was in flight (`slow`) and what follows it
    out = subprocess.run(
        _plait("recover", run["id"], "--json", cwd=tmp_path),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "succeeded"
    assert log.read_text().split() == ["first", "slow", "slow", "last"]
    shutil.rmtree(shared, ignore_errors=True)
