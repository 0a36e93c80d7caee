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
from tests.support.processes import pid_alive
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


class PlaitUp:
    """``plait --dir DIR up`` as a user runs it, in its own session; ``stop()`` is Ctrl-C."""

    def __init__(self, folder: Path, *args: str, workers: int = 1, **env: str) -> None:
        self.folder = folder
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
        argv = [sys.executable, "-m", "workspace.cli.main", "--dir", str(folder), "up", *args]
        self.proc = subprocess.Popen(
            [*argv, "--port", str(self.port), "--workers", str(workers)],
            env={**environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        self.out = Output(self.proc.stdout)
        self.code: int | None = None
        self._api: httpx.Client | None = None

    @property
    def api(self) -> httpx.Client:
        """A client with the admin key ``up`` printed on its first start."""
        if self._api is None:
            key = self.out.wait_for(r"admin API key \(shown once, keep it\): (plait_\S+)").group(1)
            auth = {"Authorization": f"Bearer {key}"}
            self._api = httpx.Client(base_url=self.base, headers=auth, timeout=60)
        return self._api

    def wait_ready(self, workers: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                ready = self.api.get("/readyz")
                if (
                    ready.status_code == 200
                    and ready.json()["checks"]["workers"]["count"] >= workers
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("plait up never became ready:\n" + self.out.text)

    def processes(self) -> set[int]:
        return descendants(self.proc.pid)

    def stop(self) -> int:
        """Ctrl-C; the exit status (SIGKILL of the whole session if it hangs)."""
        if self._api is not None:
            self._api.close()
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
        try:
            self.code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise
        finally:
            self.out.close()
        return self.code


def assert_gone(pids: set[int]) -> None:
    deadline = time.monotonic() + 10
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = {p: Path(f"/proc/{p}/cmdline").read_bytes() for p in pids if pid_alive(p)}
    assert not left, f"processes left behind: {left}"


def test_plait_up_serves_runs_survives_a_redis_crash_and_stops_everything(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    up = PlaitUp(folder, PLAIT_RUNTIME__QUEUED_GRACE_S="3")
    seen: set[int] = set()
    try:
        up.wait_ready(workers=1)
        api = up.api
        r = api.post("/api/v1/workflows", json={"dsl": TRIAGE, "publish": True})
        assert r.status_code == 201, r.text

        def fire(title: str) -> str:
            body = {"type": "bug", "severity": 9, "title": title}
            hook = httpx.post(f"{up.base}/hooks/webhook-triage/trigger_webhook", json=body)
            assert hook.status_code == 202, hook.text
            return str(hook.json()["run_id"])

        run = wait_succeeded(api, fire("Checkout is down"))
        assert run["output"]["text"] == "page P1 in oncall: Checkout is down"

        # the embedded Redis dies: `up` brings it back at the same address and runs go on
        server = EmbeddedRedis(folder / ".plait" / "redis")
        url_before = server.url
        pid = server.pid
        assert pid is not None and url_before
        seen = up.processes() | {pid}
        os.kill(pid, signal.SIGKILL)
        up.out.wait_for("embedded Redis is not answering; restarting it", timeout_s=30)
        deadline = time.monotonic() + 30
        while not server.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.url == url_before  # same port and password: nobody needs a new URL
        assert "new address" not in up.out.text
        run = wait_succeeded(api, fire("Still down"))
        assert run["output"]["text"] == "page P1 in oncall: Still down"
        seen |= up.processes()
        new_pid = server.pid
        assert new_pid is not None
        seen.add(new_pid)
    finally:
        code = up.stop()
    assert code == 0, up.out.text
    assert "stopped" in up.out.lines[-1]
    assert_gone(seen)
    assert len(seen) >= 5  # api, worker, scheduler, the old and the new Redis server at least


def test_plait_up_demo_answers_through_the_scripted_model(tmp_path: Path) -> None:
    """`plait up --demo`: a new user gets an agent with tools on the scripted mock LLM, with a
    credential labelled as scripted, and Ctrl-C stops the mock server too."""
    up = PlaitUp(tmp_path / "ws", "--demo")
    seen: set[int] = set()
    try:
        api = up.api
        up.out.wait_for(r"demo +scripted mock LLM on http://127\.0\.0\.1:\d+")
        deadline = time.monotonic() + 60
        answer: dict[str, Any] = {}
        while time.monotonic() < deadline:  # until the API, a worker and the mock are up
            try:
                resp = httpx.post(
                    f"{up.base}/hooks/demo-assistant/trigger_webhook",
                    json={"text": "what is 6 times 7?"},
                    timeout=60,
                )
                answer = resp.json()
                if resp.status_code == 200 and answer.get("status") == "succeeded":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert answer.get("status") == "succeeded", (answer, up.out.text)
        assert "The calculator says 42" in answer["output"]["output"]
        assert answer["output"]["model"]["scripted"] is True
        run = api.get(f"/api/v1/runs/{answer['run_id']}").json()
        events = api.get(f"/api/v1/runs/{answer['run_id']}/events").json()["items"]
        tools = [e["type"] for e in events if e["type"].startswith("tool_")]
        assert tools == ["tool_started", "tool_finished"]
        assert run["usage"]["tokens"] > 0 and run["usage"]["cost_usd"] == 0.0
        cred = api.get("/api/v1/credentials/demo").json()
        assert cred["label"] == "demo (scripted)" and cred["demo"] is True
        seen = up.processes()
        commands = [Path(f"/proc/{p}/cmdline").read_bytes() for p in seen if pid_alive(p)]
        assert any(b"mock-llm" in c for c in commands)  # supervised like the others
    finally:
        code = up.stop()
    assert code == 0, up.out.text
    assert_gone(seen)


def test_plait_up_hands_a_dead_workers_run_on_at_once(tmp_path: Path) -> None:
    """kill -9 of the worker driving a run: `plait up` sees the child die and ends its leases,
    so another worker takes the run over at the sweeper's next pass (not after the lease)."""
    from tests.runtime.test_service import SLOW
    from workspace.runtime.workspace import Workspace
    from workspace.settings import Settings

    folder = tmp_path / "ws"
    # a 30 s lease: only the supervisor's hand-over can make the take-over quick
    up = PlaitUp(folder, workers=2, PLAIT_RUNTIME__LEASE_TTL_S="30")
    try:
        up.wait_ready(workers=2)
        api = up.api
        assert api.post("/api/v1/workflows", json={"dsl": SLOW, "publish": True}).status_code == 201
        owner = None
        with Workspace.open(folder, settings=Settings(workspace_dir=folder), inline=True) as ws:
            # opened before the run starts: opening costs seconds on a busy machine
            hook = httpx.post(f"{up.base}/hooks/slow-chain/trigger_webhook", json={"k": 3})
            run_id = hook.json()["run_id"]
            deadline = time.monotonic() + 60
            while owner is None or owner == "queue":  # until a worker drives the run
                assert time.monotonic() < deadline, ("no worker took the run", up.out.text)
                owner = ws.store.leases.get(run_id).owner
                time.sleep(0.02)
        pid = int(owner.split(":")[1])
        killed = time.monotonic()
        os.killpg(pid, signal.SIGKILL)
        up.out.wait_for(r"worker-\d died; its 1 run\(s\) are handed to other workers", timeout_s=30)
        run = wait_succeeded(api, run_id, timeout_s=60)
        took = time.monotonic() - killed
        assert run["output"] == {"done": 3}
        assert took < 25  # far below the 30 s lease: the hand-over did it
        print(f"run succeeded {took:.1f} s after kill -9 (lease 30 s)")
    finally:
        up.stop()
