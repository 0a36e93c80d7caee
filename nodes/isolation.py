"""OS-level isolation of the ``code`` sandbox child (Linux): what ``subprocess.Popen`` gets.

* a CLEAN environment (``PATH``, ``LANG``/``LC_ALL``, ``HOME`` and ``TMPDIR`` = its private temp
  dir): nothing inherited, so no secrets from the worker's environment;
* ``cwd`` = the private temp dir (mode 0700, hidden among its siblings: ``nodes.workdirs``;
  the caller creates and deletes it);
* when the worker runs as root (and the interpreter is reachable by other users), the snippet
  runs as ``nobody`` (uid 65534, no supplementary groups);
* rlimits set in ``preexec_fn``: address space (``memory_mb``), CPU seconds (``cpu_s``), file
  size, open files, core dumps, and (for non-root users) process count;
* a new session (process group), so the caller can SIGKILL the whole group;
* a new user namespace when the kernel permits: the snippet loses every capability outside it
  (root cannot override file permissions or raise limits) and cannot open ``/proc/<pid>/environ``
  of (or attach to) the worker or any other process outside the namespace;
* network: when not allowed, also a new network namespace (only a down loopback); the runner
  then denies itself ``socket(2)`` with a seccomp filter (``sandbox_runner.deny_sockets``) and
  replaces the socket constructors and DNS functions with ones raising PermissionError.

Not covered (needs a container / bubblewrap / nsjail): without the uid drop the snippet can read
files the worker's user can read, and signal processes of that user.
"""

from __future__ import annotations

import ctypes
import functools
import os
import resource
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NOBODY = 65534
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_MB = 1024 * 1024

_libc: Any = None


@dataclass(frozen=True)
class ProcessLimits:
    memory_mb: int
    cpu_s: int
    max_file_mb: int = 64
    max_open_files: int = 256
    extra_procs: int = 32


def _unshare_fn() -> Callable[[int], int] | None:
    """``unshare(2)``, loaded in the parent (never import or dlopen after fork)."""
    global _libc
    os_unshare = getattr(os, "unshare", None)  # Python >= 3.12
    if os_unshare is not None:

        def call(flags: int) -> int:
            try:
                os_unshare(flags)
            except OSError:
                return -1
            return 0

        return call
    if _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True)
        except OSError:
            _libc = False
    return _libc.unshare if _libc and hasattr(_libc, "unshare") else None


@functools.cache
def _others_can_run(python: str) -> bool:
    """Whether an unprivileged uid can execute ``python`` (false e.g. for a pyenv Python under a
    0700 /root): a precondition for dropping to ``nobody``. For the worker's own interpreter the
    standard library directory is checked as well."""

    def reachable(path: str) -> bool:
        p = Path(path).resolve()
        try:
            if p.stat().st_mode & (stat.S_IXOTH | stat.S_IROTH) != stat.S_IXOTH | stat.S_IROTH:
                return False
            return all(d.stat().st_mode & stat.S_IXOTH for d in p.parents)
        except OSError:
            return False

    if not reachable(python):
        return False
    same = Path(python).resolve() == Path(sys.executable).resolve()
    return not same or reachable(os.path.dirname(os.__file__))


def drop_uid(python: str) -> int | None:
    """The uid snippets run as: ``nobody`` when the worker is root and that is possible."""
    return NOBODY if os.geteuid() == 0 and _others_can_run(python) else None


def _user_task_count(uid: int) -> int:
    """Tasks (processes + threads) owned by ``uid``: RLIMIT_NPROC counts them all."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith("Threads:"):
                        count += int(line.split()[1])
                        break
        except (OSError, ValueError):
            continue
    return count


def _preexec(limits: ProcessLimits, nproc: int | None, isolate_flags: int) -> Callable[[], None]:
    unshare = _unshare_fn() if isolate_flags else None

    def setlimit(which: int, soft: int, hard: int | None = None) -> None:
        hard = soft if hard is None else hard
        _, cur_hard = resource.getrlimit(which)
        if cur_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, cur_hard), min(hard, cur_hard)
        resource.setrlimit(which, (soft, hard))

    def fn() -> None:  # runs in the child between fork and exec: keep it to plain syscalls
        setlimit(resource.RLIMIT_AS, limits.memory_mb * _MB)
        setlimit(resource.RLIMIT_CPU, limits.cpu_s, limits.cpu_s + 1)
        setlimit(resource.RLIMIT_FSIZE, limits.max_file_mb * _MB)
        setlimit(resource.RLIMIT_NOFILE, limits.max_open_files)
        setlimit(resource.RLIMIT_CORE, 0)
        if nproc is not None:
            setlimit(resource.RLIMIT_NPROC, nproc)
        if unshare is not None and unshare(isolate_flags) != 0 and isolate_flags != _CLONE_NEWUSER:
            unshare(_CLONE_NEWNET)  # no user namespaces: a plain netns works when privileged

    return fn


def clean_env(home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": home,
        "TMPDIR": home,
    }


#: how long a count of a uid's tasks is reused (a scan of /proc costs ~0.3 ms per snippet)
TASK_COUNT_TTL_S = 1.0
_task_counts: dict[int, tuple[float, int]] = {}


def process_cap(uid: int, limits: ProcessLimits) -> int | None:
    """RLIMIT_NPROC for a snippet run as ``uid``: the tasks that uid has (counted at most
    ``TASK_COUNT_TTL_S`` ago) plus ``extra_procs`` (None for root, which the kernel does not
    limit)."""
    if uid == 0:
        return None
    now = time.monotonic()
    counted = _task_counts.get(uid)
    if counted is None or now - counted[0] > TASK_COUNT_TTL_S:
        counted = _task_counts[uid] = (now, _user_task_count(uid))
    return counted[1] + limits.extra_procs


def popen_kwargs(
    python: str, workdir: str, limits: ProcessLimits, *, allow_network: bool
) -> dict[str, Any]:
    """Keyword arguments for ``subprocess.Popen`` that isolate the child (see module doc).
    ``workdir`` must exist; it is handed to ``nobody`` when the uid is dropped."""
    run_as = drop_uid(python)
    uid = os.getuid() if run_as is None else run_as
    nproc = process_cap(uid, limits)
    flags = _CLONE_NEWUSER | (0 if allow_network else _CLONE_NEWNET)
    kwargs: dict[str, Any] = {
        "cwd": workdir,
        "env": clean_env(workdir),
        "close_fds": True,
        "start_new_session": True,
        "preexec_fn": _preexec(limits, nproc, flags),
    }
    if run_as is not None:
        os.chown(workdir, run_as, run_as)
        kwargs.update(user=run_as, group=run_as, extra_groups=[])
    return kwargs
