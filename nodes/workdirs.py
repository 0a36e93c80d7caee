"""The private temp dir of a ``code`` snippet (SPEC §9): its cwd, ``HOME`` and ``TMPDIR``.

When snippets run as another uid than the worker (``nobody``), they all share that uid, so a
dir's mode alone cannot keep one snippet out of another's dir. Their dirs therefore live in a
parent owned by the worker with mode 0711: a snippet can enter its own dir, whose name is 128
random bits, but cannot list the parent to find the dirs of snippets running beside it, nor
guess their names. (Their ``/proc`` entries, which would show cwd and environment, are closed
to each other too: every snippet process is non-dumpable.)

The parent is named after the worker's process (``plait-code-<pid>@<host>-<random>``) and
removed when the worker exits; a worker killed with ``-9`` cannot, so the next worker process to
make its own parent removes the parents of workers of this host that are gone (the host in the
name keeps containers that share a ``/tmp`` out of each other's dirs).
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import socket
import tempfile
import threading

__all__ = ["new_workdir", "sweep_dead"]


class _SnippetDirs:
    """The parent (mode 0711) of this process's snippet dirs; made again after a fork."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._path: str | None = None
        self._pid = 0

    def get(self) -> str:
        with self._lock:
            if self._path is None or self._pid != os.getpid() or not os.path.isdir(self._path):
                pid = os.getpid()
                if self._path is None:
                    sweep_dead()
                path = tempfile.mkdtemp(prefix=f"plait-code-{pid}@{socket.gethostname()}-")
                os.chmod(path, 0o711)
                self._path, self._pid = path, pid
                atexit.register(_remove_own, path, pid)
            return self._path


_PARENT = re.compile(r"plait-code-(\d+)@(.+)-[^-]+")


def sweep_dead() -> int:
    """Remove the snippet-dir parents (ours: same owner) of worker processes that are gone,
    e.g. killed with ``-9``; returns how many."""
    removed, host = 0, socket.gethostname()
    base = tempfile.gettempdir()
    for entry in os.scandir(base):
        match = _PARENT.fullmatch(entry.name)
        if match is None or match.group(2) != host or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_uid != os.geteuid():
                continue
            os.kill(int(match.group(1)), 0)
            continue  # alive (or a pid taken again): leave it
        except ProcessLookupError:
            pass  # gone
        except OSError:  # another user's live process (EPERM), or the entry vanished
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed += 1
    return removed


def _remove_own(path: str, pid: int) -> None:
    if os.getpid() == pid:  # never a forked child's copy of the hook
        shutil.rmtree(path, ignore_errors=True)


_SNIPPET_DIRS = _SnippetDirs()


def new_workdir(run_as: int | None) -> str:
    """A private temp dir (mode 0700) for snippets, owned by the uid they run as (``run_as``,
    else the worker's), hidden among its siblings (see the module's docstring)."""
    workdir = os.path.join(_SNIPPET_DIRS.get(), secrets.token_hex(16))
    os.mkdir(workdir, 0o700)
    if run_as is not None:
        os.chown(workdir, run_as, run_as)
    return workdir
