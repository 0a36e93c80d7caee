"""Warm sandbox hosts: one forked sandbox child serving many snippets of one workflow.

A fork per snippet costs ~4 ms of CPU on a 2-core VM (the fork of a 20 MB zygote, its
copy-on-write faults, the exit), more than everything else a ``code`` node does. A **warm host**
is a child of the same zygote with the same isolation (new session, user namespace, sockets
denied, rlimits, ``nobody``), which then runs snippets one after another in its own
interpreter (``sandbox_runner.serve``); a snippet there costs ~0.2 ms.

What is shared, and what is not:

* A host serves ONE workflow (the pool's key holds its id), one network setting, one memory
  limit, one interpreter and uid. Nothing crosses between workflows.
* Between snippets of that workflow, module-level state persists (as in a warm AWS Lambda
  container: an ``import`` or a cache made by one run is there for the next). Each snippet still
  starts in an empty private temp dir (the host's, cwd/``HOME``/``TMPDIR``, emptied after every
  snippet), with fresh variables, captured output, its own CPU limit (RLIMIT_CPU moved per
  snippet) and wall-clock limit, and the environment reset.
* A snippet that leaves something running or changed — a thread, a child process (the host is a
  subreaper, so orphans count), an open file, a signal handler, a timer, the umask — ends its
  host after its result is sent; so does a MemoryError, a timeout, a cancel (SIGKILL of the host's
  process group) and ``MAX_SNIPPETS`` snippets.

The boundary is the process: these checks catch accidents (a forgotten thread, an open file),
not a snippet of the workflow that sets out to stay (it runs inside the host and can reach the
host's own code). That is why a host never serves two workflows, nor code an agent wrote.

Settings ``sandbox.reuse``: ``workflow`` (default) or ``never`` (a fresh fork per snippet).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import selectors
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nodes.isolation import ProcessLimits
from nodes.zygote import DRAIN_S, POLL_S, STDERR_TAIL, Zygote, ZygoteChild, keep_time, send_some

#: snippets a host serves before it is replaced (bounds what module state can accumulate)
MAX_SNIPPETS = 500
#: an idle host is stopped after this long
IDLE_S = 60.0
#: idle hosts one worker process keeps (least recently used stopped first)
MAX_IDLE = 16

HostKey = tuple[str, int | None, bool, int, str]


@dataclass(eq=False)
class WarmHost:
    key: HostKey
    child: ZygoteChild
    #: the host's private temp dir (its snippets' cwd, HOME, TMPDIR; emptied after each)
    workdir: str
    last_used: float = field(default_factory=time.monotonic)

    def gone(self) -> bool:
        """Whether the host exited (or its zygote did), seen without blocking."""
        if self.child.status is None:
            with contextlib.suppress(OSError):
                if self.child.read_reply():
                    return True
        return self.child.status is not None

    def stop(self) -> None:
        self.child.kill()
        self.child.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


class WarmHosts:
    """The idle warm hosts of this process, by key. Hosts are made on demand (never at import)
    and handed to one caller at a time."""

    def __init__(self) -> None:
        self._idle: dict[HostKey, list[WarmHost]] = {}
        self._lock = threading.Lock()
        self._atexit = False

    def acquire(
        self,
        zygote: Zygote,
        key: HostKey,
        *,
        limits: ProcessLimits,
        nproc: int | None,
        network: bool,
        workdir: Callable[[], str],
    ) -> WarmHost:
        """An idle host for ``key``, or a new one forked from ``zygote`` in a new temp dir
        made by ``workdir`` (raises :class:`~nodes.zygote.ZygoteUnavailable`)."""
        stale: list[WarmHost] = []
        host = None
        with self._lock:
            stale = self._expire_locked(time.monotonic())
            hosts = self._idle.get(key, [])
            while hosts and host is None:
                candidate = hosts.pop()
                if candidate.gone():
                    stale.append(candidate)
                else:
                    host = candidate
        for old in stale:
            old.stop()
        if host is not None:
            return host
        if not self._atexit:
            self._atexit = True
            atexit.register(self.close)
        path = workdir()
        try:
            child = zygote.fork(
                workdir=path, limits=limits, nproc=nproc, network=network, serve=MAX_SNIPPETS
            )
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        return WarmHost(key, child, path)

    def release(self, host: WarmHost) -> None:
        """Give back a host that answered and may serve again."""
        host.last_used = time.monotonic()
        with self._lock:
            self._idle.setdefault(host.key, []).append(host)
            stale = self._expire_locked(host.last_used)
        for old in stale:
            old.stop()

    def _expire_locked(self, now: float) -> list[WarmHost]:
        idle = [h for hosts in self._idle.values() for h in hosts]
        expired = {h for h in idle if now - h.last_used > IDLE_S}
        if len(idle) - len(expired) > MAX_IDLE:
            live = sorted((h for h in idle if h not in expired), key=lambda h: h.last_used)
            expired.update(live[: len(live) - MAX_IDLE])
        if expired:
            for key in list(self._idle):
                self._idle[key] = [h for h in self._idle[key] if h not in expired]
                if not self._idle[key]:
                    del self._idle[key]
        return list(expired)

    def close(self) -> None:
        """Stop every idle host (each one in use is stopped by its caller's error path or
        returns here afterwards)."""
        with self._lock:
            hosts = [h for hs in self._idle.values() for h in hs]
            self._idle.clear()
        for host in hosts:
            host.stop()


def exchange_warm(
    host: WarmHost,
    request: bytes,
    timeout_s: float,
    check_cancelled: Callable[[], None],
) -> tuple[int | None, bytes, bytes, bool]:
    """Send one framed request; return ``(exit code, result, stderr tail, alive)``.

    ``alive`` is True when the host answered and stays up (then the exit code is 0 and the
    result is its frame); False when it died first (CPU limit, memory, crash): the exit code
    is then its own (``-signal`` when killed; None when unknown) and the result is empty.
    Raises :class:`NodeTimeout` on the wall clock and re-raises what ``check_cancelled``
    raises, in both cases after the host's process group was SIGKILLed.
    """
    child = host.child
    deadline = time.monotonic() + timeout_s
    pending = memoryview(b"%d\n%s" % (len(request), request))
    out = bytearray()
    err = bytearray()
    want: int | None = None
    sel = selectors.DefaultSelector()
    try:
        os.set_blocking(child.stdin, False)
        os.set_blocking(child.stdout, False)
        os.set_blocking(child.stderr, False)
        sel.register(child.stdin, selectors.EVENT_WRITE, "in")
        sel.register(child.stdout, selectors.EVENT_READ, "out")
        sel.register(child.stderr, selectors.EVENT_READ, "err")
        sel.register(child.reply, selectors.EVENT_READ, "reply")
        next_check = time.monotonic() + POLL_S
        drain_until: float | None = None
        while True:
            if want is not None and len(out) >= want:
                _read_available(child.stderr, err)
                return 0, bytes(out[:want]), bytes(err[-STDERR_TAIL:]), True
            now = time.monotonic()
            if drain_until is not None and (now >= drain_until or not sel.get_map()):
                break
            next_check = keep_time(child, now, deadline, next_check, timeout_s, check_cancelled)
            for key, _ in sel.select(max(0.0, min(next_check, deadline) - now)):
                if key.data == "in":
                    pending = send_some(child.stdin, pending)
                    if not pending:
                        sel.unregister(child.stdin)
                elif key.data == "reply":
                    if child.read_reply() or child.status is not None:
                        sel.unregister(child.reply)  # the host ended: collect what it left
                        drain_until = drain_until or time.monotonic() + DRAIN_S
                else:
                    fd = child.stdout if key.data == "out" else child.stderr
                    buffer = out if key.data == "out" else err
                    if not _read_available(fd, buffer):
                        sel.unregister(fd)
                        drain_until = drain_until or time.monotonic() + DRAIN_S
                    if key.data == "out" and want is None and b"\n" in out:
                        header, _, rest = bytes(out).partition(b"\n")
                        want, out[:] = int(header), rest
                    if len(err) > 2 * STDERR_TAIL:
                        del err[:-STDERR_TAIL]
    except BaseException:
        child.kill_and_wait()  # timed out, cancelled or failed: the host is dead before we go on
        raise
    finally:
        sel.close()
    child.kill_and_wait(timeout_s=DRAIN_S)
    code = None if child.status is None else os.waitstatus_to_exitcode(child.status)
    return code, b"", bytes(err[-STDERR_TAIL:]), False


def _read_available(fd: int, buffer: bytearray) -> bool:
    """Append what ``fd`` has now; False at EOF."""
    try:
        while data := os.read(fd, 65536):
            buffer += data
            if len(data) < 65536:
                return True
    except BlockingIOError:
        return True
    return False


#: the warm hosts of this process
HOSTS = WarmHosts()
