"""What the runtime benchmarks share: a real ``plait up`` in a temp workspace, a minimal
keep-alive HTTP load generator, and reading results from the workspace database.

``PlaitUp`` runs ``python -m workspace.cli.main up`` (API + N workers + the embedded valkey)
exactly as a user would, parses the admin key it prints, and stops it with SIGTERM (then
SIGKILL of its process group). Nothing here is imported by Plait itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PLAIT = [sys.executable, "-m", "workspace.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PlaitUp:
    """``plait up`` in a fresh workspace folder (SQLite + embedded valkey)."""

    workers: int = 2
    env: dict[str, str] = field(default_factory=dict)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="plait-bench-")))
    port: int = field(default_factory=free_port)
    key: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.folder / "plait.db"

    @property
    def redis_url(self) -> str:
        return (self.folder / ".plait" / "redis" / "redis.url").read_text().strip()

    def start(self, timeout_s: float = 60) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
        env.update({"PLAIT_WORKSPACE_DIR": str(self.folder), "PLAIT_LOG_LEVEL": "WARNING"})
        env.update(self.env)
        self.log = open(self.folder / "up.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [*PLAIT, "up", "--port", str(self.port), "--workers", str(self.workers)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = (self.folder / "up.log").read_text(errors="replace")
            found = re.search(r"admin API key \(shown once, keep it\): (\S+)", text)
            if found:
                self.key = found.group(1)
            if self.key and self._ready():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"plait up did not get ready:\n{text[-3000:]}")

    def _ready(self) -> bool:
        try:
            r = httpx.get(f"{self.url}/readyz", timeout=2)
        except httpx.HTTPError:
            return False
        return r.status_code == 200 and r.json()["checks"]["workers"]["count"] >= self.workers

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )

    def publish(self, dsl: str) -> None:
        with self.client() as api:
            r = api.post("/api/v1/workflows", json={"dsl": dsl, "publish": True})
            if r.status_code != 201:
                raise RuntimeError(f"could not import the workflow: {r.status_code} {r.text}")

    def worker_pids(self) -> list[int]:
        """The pids of the worker processes (children of ``plait up`` running ``worker``)."""
        assert self.proc is not None
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.proc.pid and b"worker" in cmd:
                pids.append(int(entry.name))
        return sorted(pids)

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        self.log.close()
        self.proc = None


@contextlib.contextmanager
def plait_up(workers: int = 2, env: dict[str, str] | None = None) -> Iterator[PlaitUp]:
    up = PlaitUp(workers=workers, env=dict(env or {}))
    up.start()
    try:
        yield up
    finally:
        up.stop()


# ------------------------------------------------------------------------------- database


def _ts(text: str | None) -> float | None:
    return datetime.fromisoformat(text).timestamp() if text else None


def run_counts(db: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as c:
        return dict(c.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall())


def run_times(db: Path, status: str = "succeeded") -> list[tuple[float, float]]:
    """(created, finished) epoch seconds of the runs with ``status``."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as c:
        rows = c.execute(
            "SELECT created_at, finished_at FROM runs WHERE status = ?", (status,)
        ).fetchall()
    out = []
    for created, finished in rows:
        a, b = _ts(created), _ts(finished)
        if a is not None and b is not None:
            out.append((a, b))
    return out


def drain(db: Path, timeout_s: float, expected: int | None = None) -> dict[str, int]:
    """Wait until no run is queued or running (and ``expected`` runs exist, if given). Gives
    up after ``timeout_s`` without progress (a backlog that keeps finishing is waited for)."""
    deadline = time.monotonic() + timeout_s
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        now = run_counts(db)
        if now != counts:
            deadline = time.monotonic() + timeout_s  # runs are still finishing
        counts = now
        busy = counts.get("queued", 0) + counts.get("running", 0)
        if not busy and (expected is None or sum(counts.values()) >= expected):
            return counts
        time.sleep(0.5)
    return counts


# ------------------------------------------------------------------------------ HTTP load


async def _post_loop(
    host: str,
    port: int,
    path: str,
    until: float,
    latencies: list[float],
    statuses: dict[int, int],
    counter: list[int],
    limit: int | None,
) -> None:
    """One keep-alive connection posting JSON bodies (each unique) until ``until``."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.monotonic() < until and (limit is None or counter[0] < limit):
            counter[0] += 1
            body = json.dumps({"n": counter[0], "pid": os.getpid(), "t": time.time()}).encode()
            head = (
                f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            code = int(status_line.split()[1]) if status_line else 0
            statuses[code] = statuses.get(code, 0) + 1
            if not status_line:
                return
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def fire(
    url: str, path: str, *, seconds: float, concurrency: int, limit: int | None = None
) -> dict[str, Any]:
    """POST webhooks on ``concurrency`` connections for ``seconds`` (or ``limit`` requests)."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = [0]

    async def main() -> float:
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(
            *(
                _post_loop(host, int(port), path, until, latencies, statuses, counter, limit)
                for _ in range(concurrency)
            )
        )
        return time.monotonic() - started

    elapsed = asyncio.run(main())
    return {"latencies": latencies, "statuses": statuses, "elapsed_s": elapsed}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")
