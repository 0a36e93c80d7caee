"""A real ``plait api`` server in a subprocess (SQLite workspace folder, runs driven in the
server process), that a test can stop and start again on the same port."""

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

from workspace.domain.access import Role, User, new_api_key
from workspace.runtime.workspace import Workspace
from workspace.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ApiServer:
    folder: Path
    port: int
    key: str = ""
    proc: subprocess.Popen[bytes] | None = None
    logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
        log = open(self.folder / "api.log", "ab")  # noqa: SIM115 (closed in stop())
        self.logs.append(log)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workspace.cli.main",
                "--dir",
                str(self.folder),
                "api",
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
            if self.proc.poll() is not None:
                break
        raise AssertionError(f"the API did not start:\n{self.log_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        for log in self.logs:
            log.close()
        self.logs.clear()

    def log_text(self) -> str:
        path = self.folder / "api.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[ApiServer]:
    folder = tmp_path / "server"
    with Workspace.open(folder, settings=Settings(workspace_dir=folder), inline=True) as ws:
        admin = ws.store.access.create_user(User(name="admin", role=Role.ADMIN))
        key, secret = new_api_key(admin.id)
        ws.store.access.add_key(key)
    server = ApiServer(folder, free_port(), secret)
    server.start()
    try:
        yield server
    finally:
        server.stop()
