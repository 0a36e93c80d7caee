"""Worker side of the pre-forked sandbox: the zygote process and one snippet's exchange with it.

A :class:`Zygote` is a warm interpreter (:mod:`nodes.sandbox_zygote`) started once per worker
process and sandbox user with the clean environment, as ``nobody`` when the worker is root,
inside a user namespace of its own. :meth:`Zygote.fork` hands it four fresh file descriptors
(the child's stdin/stdout/stderr pipes and a reply socket) over a ``SOCK_SEQPACKET`` socket;
the zygote forks one child per snippet, which isolates itself further (new session, its own
user namespace, a network namespace unless allowed, rlimits, the private temp dir) and runs the
snippet. :func:`exchange` then talks to the child directly: it writes the request, reads the
result, enforces the wall-clock limit and polls for cancellation, and SIGKILLs the child's
process group on timeout / cancel / exit. The zygote reports the child's wait status.

:mod:`nodes.zygote_pool` keeps one zygote per (interpreter, uid) in the process.
"""

from __future__ import annotations

import array
import contextlib
import functools
import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodes.isolation import ProcessLimits, clean_env
from workspace.errors import NodeTimeout

log = logging.getLogger(__name__)

ZYGOTE = Path(__file__).with_name("sandbox_zygote.py")
RUNNER = Path(__file__).with_name("sandbox_runner.py")
START_TIMEOUT_S = 10.0
#: how long the zygote may take to answer a fork request before it counts as dead
FORK_TIMEOUT_S = 5.0
POLL_S = 0.1
#: after the child exited, how long stragglers may keep its pipes open before we stop reading
DRAIN_S = 1.0
STDERR_TAIL = 64 * 1024


class ZygoteUnavailable(Exception):
    """The zygote could not start, or died: spawn an interpreter for this snippet instead."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@functools.cache
def _sources() -> tuple[str, str]:
    return ZYGOTE.read_text(encoding="utf-8"), RUNNER.read_text(encoding="utf-8")


@dataclass
class ZygoteChild:
    """One forked snippet child, seen from the worker."""

    pid: int
    stdin: int
    stdout: int
    stderr: int
    reply: socket.socket
    _buffer: bytes = b""
    status: int | None = field(default=None)

    def kill(self) -> None:
        """SIGKILL the child and its process group (what the snippet started). Once the zygote
        reported the exit, it has done so itself (and the pid may be free): nothing to do."""
        if self.pid < 0 or self.status is not None:
            return
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(self.pid, signal.SIGKILL)

    def read_reply(self) -> bool:
        """Read what the zygote sent about this child (non-blocking); True at EOF."""
        try:
            data = self.reply.recv(4096)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        self._buffer += data
        self._parse()
        return not data

    def _parse(self) -> None:
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            word, _, value = line.decode("ascii").partition(" ")
            if word == "pid":
                self.pid = int(value)
            elif word == "status":
                self.status = int(value)

    def kill_and_wait(self, timeout_s: float = 2.0) -> None:
        """SIGKILL the child's group, then wait (bounded) until the zygote reports it reaped."""
        self.kill()
        deadline = time.monotonic() + timeout_s
        while self.status is None and time.monotonic() < deadline:
            self.reply.settimeout(max(0.01, deadline - time.monotonic()))
            if self.read_reply():
                break

    def close(self) -> None:
        for fd in (self.stdin, self.stdout, self.stderr):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.stdin = self.stdout = self.stderr = -1
        self.reply.close()


class Zygote:
    def __init__(self, python: str, run_as: int | None) -> None:
        self.python = python
        self.run_as = run_as
        self.owner_pid = os.getpid()
        self.userns = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return (
            self._proc is not None
            and self._control is not None
            and self._proc.poll() is None
            and self.owner_pid == os.getpid()
        )

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        zygote_src, runner_src = _sources()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        kwargs: dict[str, Any] = {}
        if self.run_as is not None:
            kwargs.update(user=self.run_as, group=self.run_as, extra_groups=[])
        try:
            self._proc = subprocess.Popen(
                [self.python, "-I", "-S", "-c", zygote_src, str(theirs.fileno()), runner_src],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd="/",
                env=clean_env("/"),
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
                **kwargs,
            )
        except OSError as exc:
            ours.close()
            raise ZygoteUnavailable(f"cannot start {self.python}: {exc}") from None
        finally:
            theirs.close()
        ours.settimeout(timeout_s)
        try:
            hello = ours.recv(1 << 16)
        except OSError as exc:
            hello = f"no answer: {exc}".encode()
        try:
            info = json.loads(hello) if hello.startswith(b"{") else {"error": hello.decode()}
        except ValueError:
            info = {"error": hello[:200].decode(errors="replace")}
        if "ready" not in info:
            self._control = ours
            self.close()
            raise ZygoteUnavailable(f"zygote failed to start: {info.get('error') or 'it exited'}")
        ours.settimeout(None)
        self._control = ours
        self.userns = bool(info.get("userns"))
        log.debug("sandbox zygote %s ready (python %s)", self._proc.pid, self.python)

    def fork(
        self,
        *,
        workdir: str,
        limits: ProcessLimits,
        nproc: int | None,
        network: bool,
        serve: int | None = None,
    ) -> ZygoteChild:
        """Ask for one child; raises :class:`ZygoteUnavailable` when the zygote is gone.
        With ``serve=N`` the child is a warm host for up to N snippets (its CPU budget N times
        the per-snippet limit), else it runs one snippet."""
        fields: dict[str, Any] = {
            "workdir": workdir,
            "memory_mb": limits.memory_mb,
            "cpu_s": limits.cpu_s,
            "max_file_mb": limits.max_file_mb,
            "max_open_files": limits.max_open_files,
            "nproc": nproc,
            "network": network,
        }
        if serve is not None:
            fields.update(serve=serve, cpu_budget_s=serve * limits.cpu_s + 1)
        request = json.dumps(fields).encode()
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        reply, reply_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        theirs = [stdin_r, stdout_w, stderr_w, reply_theirs.fileno()]
        child = ZygoteChild(-1, stdin_w, stdout_r, stderr_r, reply)
        try:
            with self._lock:
                control = self._control
                if control is None or not self.alive:
                    raise ZygoteUnavailable("the zygote is not running")
                try:
                    control.sendmsg(
                        [request],
                        [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", theirs))],
                    )
                except OSError as exc:
                    raise ZygoteUnavailable(f"the zygote stopped answering: {exc}") from None
        except BaseException:
            child.close()
            raise
        finally:
            for fd in theirs[:3]:
                os.close(fd)
            reply_theirs.close()
        reply.settimeout(FORK_TIMEOUT_S)
        try:
            while child.pid < 0 and not child.read_reply():
                pass
        except TimeoutError:
            pass
        if child.pid < 0:
            child.close()
            raise ZygoteUnavailable("the zygote did not fork a child (it died or hung)")
        reply.setblocking(False)
        return child

    def close(self) -> None:
        """Stop the zygote: EOF on its control socket ends it (and its children)."""
        control, self._control = self._control, None
        if control is not None:
            control.close()
        proc = self._proc
        if proc is not None:
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def keep_time(
    child: ZygoteChild,
    now: float,
    deadline: float,
    next_check: float,
    timeout_s: float,
    check_cancelled: Callable[[], None],
) -> float:
    """The wall clock and cancellation of one exchange: SIGKILLs the child and raises
    :class:`NodeTimeout` past ``deadline``; polls ``check_cancelled`` every ``POLL_S`` (what
    it raises propagates). Returns when to poll next."""
    if now >= deadline:
        child.kill_and_wait()
        raise NodeTimeout(
            f"code ran for more than {timeout_s:g}s and was killed", timeout_s=timeout_s
        )
    if now >= next_check:
        check_cancelled()
        return now + POLL_S
    return next_check


def send_some(fd: int, pending: memoryview) -> memoryview:
    """Write what a non-blocking pipe takes now; what is left (nothing once the reader is
    gone)."""
    try:
        return pending[os.write(fd, pending[:65536]) :]
    except BrokenPipeError:
        return pending[:0]


def exchange(
    child: ZygoteChild,
    request: bytes,
    timeout_s: float,
    check_cancelled: Callable[[], None],
) -> tuple[int | None, bytes, bytes]:
    """Feed the child its request; return its exit code (``-signal`` when killed; None when
    the zygote died before reporting it), its result bytes and the tail of its stderr.

    Raises :class:`NodeTimeout` when the wall clock runs out; re-raises what ``check_cancelled``
    raises. In every case the child's process group is SIGKILLed before this returns.
    """
    deadline = time.monotonic() + timeout_s
    out: list[bytes] = []
    err = bytearray()
    pending = memoryview(request)
    sel = selectors.DefaultSelector()
    try:
        os.set_blocking(child.stdin, False)
        sel.register(child.stdin, selectors.EVENT_WRITE, "in")
        sel.register(child.stdout, selectors.EVENT_READ, "out")
        sel.register(child.stderr, selectors.EVENT_READ, "err")
        sel.register(child.reply, selectors.EVENT_READ, "reply")
        open_pipes, reported = 2, child.status is not None
        drain_until = time.monotonic() + DRAIN_S if reported else None
        next_check = time.monotonic() + POLL_S
        while open_pipes or not reported:
            now = time.monotonic()
            if drain_until is not None and now >= drain_until:
                break  # the child ended; something outside its group holds a pipe open
            next_check = keep_time(child, now, deadline, next_check, timeout_s, check_cancelled)
            for key, _ in sel.select(max(0.0, min(next_check, deadline) - now)):
                if key.data == "in":
                    pending = send_some(child.stdin, pending)
                    if not pending:
                        sel.unregister(child.stdin)
                        os.close(child.stdin)
                        child.stdin = -1
                elif key.data == "reply":
                    if child.read_reply():
                        sel.unregister(child.reply)
                        reported = True  # with a status, or the zygote died (status None)
                    if child.status is not None and drain_until is None:
                        reported = True
                        drain_until = time.monotonic() + DRAIN_S
                else:
                    fd = child.stdout if key.data == "out" else child.stderr
                    data = os.read(fd, 65536)
                    if not data:
                        sel.unregister(fd)
                        open_pipes -= 1
                    elif key.data == "out":
                        out.append(data)
                    else:
                        err += data
                        if len(err) > 2 * STDERR_TAIL:
                            del err[:-STDERR_TAIL]
    except BaseException:
        child.kill_and_wait()  # cancelled (or failed): the child is dead before we go on
        raise
    finally:
        sel.close()
        child.kill()
        child.close()
    code = None if child.status is None else os.waitstatus_to_exitcode(child.status)
    return code, b"".join(out), bytes(err[-STDERR_TAIL:])
