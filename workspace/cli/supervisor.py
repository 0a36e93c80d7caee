"""``Supervisor``: starts child processes, restarts the ones that die, stops them all.

Each child runs in its own process group, so stopping it also stops what it started (code
sandboxes). Stopping sends SIGTERM to every group, waits, then SIGKILLs what is left: Ctrl-C on
``plait up`` leaves no orphans.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    backoff_s: float = 0.5
    history: list[float] = field(default_factory=list)
    #: pid of the last exit ``check`` reported
    reported: int | None = None


class Supervisor:
    def __init__(self, *, echo: Callable[[str], None] = print) -> None:
        self.children: list[Child] = []
        self._echo = echo
        self._stopping = False

    def add(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        child = Child(name, argv, env)
        self.children.append(child)
        self._start(child)
        return child

    def _start(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.argv, env=child.env, start_new_session=True)
        child.started_at = time.monotonic()

    def check(self) -> list[tuple[str, int]]:
        """Restart children that exited (with a growing pause if they keep dying); returns
        the (name, pid) of each child seen dead for the first time."""
        if self._stopping:
            return []
        now = time.monotonic()
        died: list[tuple[str, int]] = []
        for child in self.children:
            proc = child.proc
            if proc is None or proc.poll() is None:
                continue
            if child.reported != proc.pid:
                child.reported = proc.pid
                died.append((child.name, proc.pid))
            if now - child.started_at > 30:
                child.backoff_s = 0.5  # it ran fine for a while: restart at once
            if now - child.started_at < child.backoff_s:
                continue
            child.restarts += 1
            self._echo(f"{child.name} exited with {proc.returncode}; restarting")
            child.backoff_s = min(child.backoff_s * 2, 30.0)
            self._start(child)
        return died

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stopping = True
        self._terminate(self.children, timeout_s)

    def restart_all(self, env: dict[str, str], timeout_s: float = 15.0) -> None:
        """Stop every child and start it again with ``env`` (e.g. a new Redis URL)."""
        self._terminate(self.children, timeout_s)
        for child in self.children:
            child.env = env
            self._start(child)

    def _terminate(self, children: list[Child], timeout_s: float) -> None:
        for child in children:
            _signal(child, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in children:
            proc = child.proc
            if proc is None:
                continue
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", child.name)
        for child in children:
            _signal(child, signal.SIGKILL)  # the group: anything the child left behind
            if child.proc is not None and child.proc.poll() is None:
                child.proc.wait(timeout=5)


def _signal(child: Child, sig: signal.Signals) -> None:
    proc = child.proc
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
