"""The private temp dir of a ``code`` snippet (SPEC §9): its cwd, ``HOME`` and ``TMPDIR``.

When snippets run as another uid than the worker (``nobody``), they all share that uid, so a
dir's mode alone cannot keep one snippet out of another's dir. Their dirs therefore live in a
parent owned by the worker with mode 0711: a snippet can enter its own dir, whose name is 128
random bits, but cannot list the parent to find the dirs of snippets running beside it, nor
guess their names. (Their ``/proc`` entries, which would show cwd and environment, are closed
to each other too: every snippet process is non-dumpable.)
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
import threading

__all__ = ["new_workdir"]


class _SnippetDirs:
    """The parent (mode 0711) of this process's snippet dirs; made again after a fork."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._path: str | None = None
        self._pid = 0

    def get(self) -> str:
        with self._lock:
            if self._path is None or self._pid != os.getpid() or not os.path.isdir(self._path):
                path = tempfile.mkdtemp(prefix="plait-code-")
                os.chmod(path, 0o711)
                self._path, self._pid = path, os.getpid()
                atexit.register(_remove_own, path, self._pid)
            return self._path


def _remove_own(path: str, pid: int) -> None:
    if os.getpid() == pid:  # never a forked child's copy of the hook
        shutil.rmtree(path, ignore_errors=True)


_SNIPPET_DIRS = _SnippetDirs()


def new_workdir(run_as: int | None) -> str:
    """A private temp dir (mode 0700) for snippets, owned by the uid they run as (with
    ``run_as``: hidden among its siblings, see ``_SnippetDirs``)."""
    if run_as is None:  # snippets run as the worker's own user: nothing to hide from them
        return tempfile.mkdtemp(prefix="plait-code-")
    workdir = os.path.join(_SNIPPET_DIRS.get(), secrets.token_hex(16))
    os.mkdir(workdir, 0o700)
    os.chown(workdir, run_as, run_as)
    return workdir
