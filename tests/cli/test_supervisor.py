"""``Supervisor`` with real child processes: restart on death, restart all with a new
environment (``plait up`` does that when the embedded Redis comes back on a new address), and
stop leaving nothing behind."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tests.support.processes import pid_alive
from workspace.cli.supervisor import Supervisor

# writes its pid and PLAIT_REDIS_URL to a file named after it, then sleeps
CHILD = (
    "import os, pathlib, sys, time\n"
    "p = pathlib.Path(sys.argv[1])\n"
    "p.write_text(f\"{os.getpid()} {os.environ.get('PLAIT_REDIS_URL', '')}\")\n"
    "time.sleep(60)\n"
)


def _wait_for(path: Path, pid_not: int | None = None, timeout_s: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            parts = path.read_text().split(" ", 1)
            if len(parts) == 2 and (pid_not is None or int(parts[0]) != pid_not):
                return parts
        time.sleep(0.05)
    raise AssertionError(f"{path} was not (re)written in {timeout_s}s")


def test_restart_all_starts_every_child_again_with_the_new_environment(tmp_path: Path) -> None:
    echoed: list[str] = []
    sup = Supervisor(echo=echoed.append)
    env = {**os.environ, "PLAIT_REDIS_URL": "redis://127.0.0.1:1111/0"}
    files = [tmp_path / "api", tmp_path / "worker-1"]
    try:
        for f in files:
            sup.add(f.name, [sys.executable, "-c", CHILD, str(f)], dict(env))
        first = [_wait_for(f) for f in files]
        assert [url for _, url in first] == ["redis://127.0.0.1:1111/0"] * 2

        new_env = {**env, "PLAIT_REDIS_URL": "redis://127.0.0.1:2222/0"}
        sup.restart_all(new_env, timeout_s=5)
        second = [_wait_for(f, pid_not=int(pid)) for f, (pid, _) in zip(files, first, strict=True)]
        assert [url for _, url in second] == ["redis://127.0.0.1:2222/0"] * 2
        assert not any(pid_alive(int(pid)) for pid, _ in first)  # the old ones are gone
        assert sup.check() == []  # nothing counts as died: they were restarted on purpose
    finally:
        sup.stop(timeout_s=5)
    assert all(c.proc is not None and c.proc.poll() is not None for c in sup.children)


def test_a_child_that_dies_is_restarted_and_reported_once(tmp_path: Path) -> None:
    echoed: list[str] = []
    sup = Supervisor(echo=echoed.append)
    f = tmp_path / "worker-1"
    try:
        child = sup.add("worker-1", [sys.executable, "-c", CHILD, str(f)], dict(os.environ))
        pid = int(_wait_for(f)[0])
        os.kill(pid, 9)
        assert child.proc is not None
        child.proc.wait(5)
        child.started_at -= 1  # past its restart pause
        assert sup.check() == [("worker-1", pid)]
        new_pid = int(_wait_for(f, pid_not=pid)[0])
        assert new_pid != pid and child.restarts == 1
        assert sup.check() == []
        assert echoed == ["worker-1 exited with -9; restarting"]
    finally:
        sup.stop(timeout_s=5)
