"""``plait up`` for real, as a user runs it: one command on the embedded default (a workspace
folder, SQLite, the embedded valkey server), a webhook-triggered example end to end, the
embedded Redis killed and brought back by ``up`` at the same address, and Ctrl-C leaving no
process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.runtime.conftest import _free_port
from workspace.queue.server import EmbeddedRedis

pytestmark = pytest.mark.timeout(180)

TRIAGE = (Path(__file__).parents[2] / "examples" / "webhook_triage.yaml").read_text()


class Output:
    """The lines a process prints, collected by a thread (so its pipe never fills up)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def close(self) -> None:
        """Wait until the process closed its end (it exited) and the pipe is closed."""
        self._thread.join(timeout=10)

    def wait_for(self, pattern: str, timeout_s: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            time.sleep(0.05)
        raise AssertionError(f"no line matched {pattern!r}:\n" + "\n".join(self.lines[-40:]))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def descendants(pid: int) -> set[int]:
    """Every process whose parent chain leads to ``pid`` (read from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_succeeded(api: httpx.Client, run_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = api.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    assert run.get("status") == "succeeded", run
    return run


def test_plait_up_serves_runs_survives_a_redis_crash_and_stops_everything(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    env["PLAIT_RUNTIME__QUEUED_GRACE_S"] = "3"
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workspace.cli.main",
            "--dir",
            str(folder),
            "up",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert up.stdout is not None
    out = Output(up.stdout)
    seen: set[int] = set()
    try:
        key = out.wait_for(r"admin API key \(shown once, keep it\): (plait_\S+)").group(1)
        base = f"http://127.0.0.1:{port}"
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                ready = api.get("/readyz")
                if ready.status_code == 200 and ready.json()["checks"]["workers"]["count"] >= 1:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("plait up never became ready:\n" + out.text)
        r = api.post("/api/v1/workflows", json={"dsl": TRIAGE, "publish": True})
        assert r.status_code == 201, r.text

        def fire(title: str) -> str:
            body = {"type": "bug", "severity": 9, "title": title}
            hook = httpx.post(f"{base}/hooks/webhook-triage/trigger_webhook", json=body)
            assert hook.status_code == 202, hook.text
            return str(hook.json()["run_id"])

        run = wait_succeeded(api, fire("Checkout is down"))
        assert run["output"]["text"] == "page P1 in oncall: Checkout is down"

        # the embedded Redis dies: `up` brings it back at the same address and runs go on
        redis_dir = folder / ".plait" / "redis"
        server = EmbeddedRedis(redis_dir)
        url_before = server.url
        pid = server.pid
        assert pid is not None and url_before
        seen = descendants(up.pid) | {pid}
        os.kill(pid, signal.SIGKILL)
        out.wait_for("embedded Redis is not answering; restarting it", timeout_s=30)
        deadline = time.monotonic() + 30
        while not server.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.url == url_before  # same port and password: nobody needs a new URL
        assert "new address" not in out.text
        run = wait_succeeded(api, fire("Still down"))
        assert run["output"]["text"] == "page P1 in oncall: Still down"
        api.close()
        seen |= descendants(up.pid)
        new_pid = server.pid
        assert new_pid is not None
        seen.add(new_pid)
    finally:
        if up.poll() is None:
            os.kill(up.pid, signal.SIGINT)  # Ctrl-C
        try:
            code = up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            raise
        finally:
            out.close()
    assert code == 0, out.text
    assert "stopped" in out.lines[-1]
    deadline = time.monotonic() + 10
    while any(alive(p) for p in seen) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = {p: Path(f"/proc/{p}/cmdline").read_bytes() for p in seen if alive(p)}
    assert not left, f"processes left behind: {left}"
    assert len(seen) >= 4  # api, worker, the old and the new Redis server at least


def test_plait_up_demo_answers_through_the_scripted_model(tmp_path: Path) -> None:
    """`plait up --demo`: a new user gets an agent with tools on the scripted mock LLM, with a
    credential labelled as scripted, and Ctrl-C stops the mock server too."""
    folder = tmp_path / "ws"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    argv = [sys.executable, "-m", "workspace.cli.main", "--dir", str(folder), "up", "--demo"]
    up = subprocess.Popen(
        [*argv, "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert up.stdout is not None
    out = Output(up.stdout)
    seen: set[int] = set()
    try:
        key = out.wait_for(r"admin API key \(shown once, keep it\): (plait_\S+)").group(1)
        out.wait_for(r"demo +scripted mock LLM on http://127\.0\.0\.1:\d+")
        base = f"http://127.0.0.1:{port}"
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        deadline = time.monotonic() + 60
        answer: dict[str, Any] = {}
        while time.monotonic() < deadline:  # until the API, a worker and the mock are up
            try:
                resp = httpx.post(
                    f"{base}/hooks/demo-assistant/trigger_webhook",
                    json={"text": "what is 6 times 7?"},
                    timeout=60,
                )
                answer = resp.json()
                if resp.status_code == 200 and answer.get("status") == "succeeded":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert answer.get("status") == "succeeded", (answer, out.text)
        assert "The calculator says 42" in answer["output"]["output"]
        assert answer["output"]["model"]["scripted"] is True
        run = api.get(f"/api/v1/runs/{answer['run_id']}").json()
        tools = [e for e in api.get(f"/api/v1/runs/{answer['run_id']}/events").json()["items"]
                 if e["type"].startswith("tool_")]  # fmt: skip
        assert [e["type"] for e in tools] == ["tool_started", "tool_finished"]
        assert run["usage"]["tokens"] > 0 and run["usage"]["cost_usd"] == 0.0
        cred = api.get("/api/v1/credentials/demo").json()
        assert cred["label"] == "demo (scripted)" and cred["demo"] is True
        seen = descendants(up.pid)
        commands = [Path(f"/proc/{p}/cmdline").read_bytes() for p in seen if alive(p)]
        assert any(b"mock-llm" in c for c in commands)  # supervised like the others
        api.close()
    finally:
        if up.poll() is None:
            os.kill(up.pid, signal.SIGINT)
        try:
            code = up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            raise
        finally:
            out.close()
    assert code == 0, out.text
    deadline = time.monotonic() + 10
    while any(alive(p) for p in seen) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in seen if alive(p)]


def test_plait_up_hands_a_dead_workers_run_on_at_once(tmp_path: Path) -> None:
    """kill -9 of the worker driving a run: `plait up` sees the child die and ends its leases,
    so another worker takes the run over at the sweeper's next pass (not after the lease)."""
    from tests.runtime.test_service import SLOW

    folder = tmp_path / "ws"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    env["PLAIT_RUNTIME__LEASE_TTL_S"] = "30"  # only the hand-over can be quick here
    argv = [sys.executable, "-m", "workspace.cli.main", "--dir", str(folder), "up"]
    up = subprocess.Popen(
        [*argv, "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert up.stdout is not None
    out = Output(up.stdout)
    try:
        key = out.wait_for(r"admin API key \(shown once, keep it\): (plait_\S+)").group(1)
        base = f"http://127.0.0.1:{port}"
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                ready = api.get("/readyz")
                if ready.status_code == 200 and ready.json()["checks"]["workers"]["count"] >= 2:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert api.post("/api/v1/workflows", json={"dsl": SLOW, "publish": True}).status_code == 201
        run_id = httpx.post(f"{base}/hooks/slow-chain/trigger_webhook", json={"k": 3}).json()[
            "run_id"
        ]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            events = api.get(f"/api/v1/runs/{run_id}/events").json()["items"]
            if any(e["type"] == "node_started" and e["node_id"] == "slow" for e in events):
                break
            time.sleep(0.05)
        from workspace.runtime.workspace import Workspace
        from workspace.settings import Settings

        with Workspace.open(folder, settings=Settings(workspace_dir=folder), inline=True) as ws:
            owner = ws.store.leases.get(run_id).owner
        assert owner is not None
        pid = int(owner.split(":")[1])
        killed = time.monotonic()
        os.killpg(pid, signal.SIGKILL)
        out.wait_for(r"worker-\d died; its 1 run\(s\) are handed to other workers", timeout_s=30)
        run = wait_succeeded(api, run_id, timeout_s=60)
        took = time.monotonic() - killed
        assert run["output"] == {"done": 3}
        assert took < 25  # far below the 30 s lease: the hand-over did it
        print(f"run succeeded {took:.1f} s after kill -9 (lease 30 s)")
        api.close()
    finally:
        if up.poll() is None:
            os.kill(up.pid, signal.SIGINT)
        try:
            up.wait(timeout=60)
        finally:
            out.close()
