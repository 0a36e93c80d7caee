"""A worker killed with SIGKILL mid-task: another worker process gets the same message."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from workspace.queue.dramatiq_queue import DramatiqTaskQueue
from workspace.queue.ports import Task

pytestmark = pytest.mark.redis

HELPER = Path(__file__).with_name("redelivery_worker.py")
ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """Starts helper worker processes; stops (or kills) every one of them at the end."""

    def __init__(self, url: str, namespace: str, where: Path) -> None:
        self.url, self.namespace, self.where = url, namespace, where
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *, sleep_s: float) -> Path:
        out = self.where / f"{name}.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        args = [self.url, self.namespace, str(out), str(sleep_s), "1500", "1000000", "100"]
        self.procs.append(subprocess.Popen([sys.executable, str(HELPER), *args], env=env))
        wait_line(out, "ready ")
        return out

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_line(out: Path, prefix: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists():
            for line in out.read_text().splitlines():
                if line.startswith(prefix):
                    return line
        time.sleep(0.01)
    raise AssertionError(f"no line starting {prefix!r} in {out} within {timeout} s")


@pytest.fixture
def workers(redis_url: str, redis_prefix: str, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(redis_url, redis_prefix, tmp_path)
    try:
        yield pool
    finally:
        pool.close()


def test_a_killed_workers_task_is_redelivered(
    workers: Workers, redis_url: str, redis_prefix: str
) -> None:
    first = workers.start("first", sleep_s=120)
    producer = DramatiqTaskQueue(redis_url, namespace=redis_prefix)
    try:
        message_id = producer.send(Task("start", "run-1"))
    finally:
        producer.close()
    taken = wait_line(first, f"got {workers.procs[0].pid} {message_id} ")
    assert taken.split()[3:5] == ["start", "run-1"]

    second = workers.start("second", sleep_s=0)
    workers.procs[0].kill()
    workers.procs[0].wait()
    killed = time.monotonic()

    again = wait_line(second, f"got {workers.procs[1].pid} {message_id} ", timeout=30)
    delay = time.monotonic() - killed
    assert again.split()[3:5] == ["start", "run-1"]
    # heartbeat_timeout 1.5 s, maintenance on every broker call, polls every 0.1 s.
    assert 1.0 <= delay < 10, delay
