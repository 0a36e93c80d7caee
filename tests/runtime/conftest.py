"""A real Plait service for integration tests: ``plait api`` and ``plait worker`` subprocesses
on a real Redis (a dedicated database, flushed first) and a workspace folder (SQLite), or
PostgreSQL when the test asks for it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest
import redis

from workspace.domain.access import Role, User, new_api_key
from workspace.queue.testing import redis_required, redis_unavailable_reason
from workspace.runtime.workspace import Workspace

REDIS_URL = os.environ.get("PLAIT_TEST_SERVICE_REDIS_URL", "redis://127.0.0.1:6379/12")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    folder: Path
    env: dict[str, str]
    port: int
    key: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 (closed in stop())
        self.logs.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "workspace.cli.main", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        return self.spawn(name, "worker", "--threads", "4")

    def open(self) -> Workspace:
        return Workspace.open(self.folder, redis_url=self.env["PLAIT_REDIS_URL"])

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )

    def wait_healthy(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("the API never answered /healthz")

    def wait_ready(self, workers: int, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"{self.url}/readyz", timeout=2)
                last = r.text
                if r.status_code == 200 and r.json()["checks"]["workers"]["count"] >= workers:
                    return
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.2)
        logs = "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in self.folder.glob("*.log")
        )
        raise AssertionError(f"service not ready: {last}\n{logs}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        for log in self.logs:
            log.close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    reason = redis_unavailable_reason(REDIS_URL)
    if reason:
        if redis_required():
            pytest.fail(reason)
        pytest.skip(reason)
    redis.Redis.from_url(REDIS_URL).flushdb()
    folder = tmp_path / "ws"
    env = {
        **os.environ,
        "PLAIT_WORKSPACE_DIR": str(folder),
        "PLAIT_REDIS_URL": REDIS_URL,
        "PLAIT_RUNTIME__LEASE_TTL_S": "2",
        "PLAIT_RUNTIME__HEARTBEAT_S": "0.5",
        "PLAIT_RUNTIME__SWEEP_INTERVAL_S": "0.5",
    }
    env.pop("PLAIT_DATABASE_URL", None)
    with Workspace.open(folder, inline=True) as ws:
        admin = ws.store.access.create_user(User(name="admin", role=Role.ADMIN))
        key, secret = new_api_key(admin.id)
        ws.store.access.add_key(key)
    svc = Service(folder, env, _free_port(), secret)
    try:
        svc.spawn("api", "api", "--port", str(svc.port))
        yield svc
    finally:
        svc.stop()
        redis.Redis.from_url(REDIS_URL).flushdb()
