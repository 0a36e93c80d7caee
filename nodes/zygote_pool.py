"""``ZYGOTES``: the sandbox zygotes of this process, one per (interpreter, uid).

Started on first use (never at import), restarted when one died, stopped at exit. When one
cannot start, :meth:`ZygotePool.get` logs why and answers None, and the caller spawns an
interpreter per snippet; it tries to start one again after ``RETRY_S``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from nodes.zygote import Zygote, ZygoteUnavailable

log = logging.getLogger("nodes.zygote")

RETRY_S = 30.0


class ZygotePool:
    """One zygote per (interpreter, uid) in this process, started on first use."""

    def __init__(self) -> None:
        self._zygotes: dict[tuple[str, int | None], Zygote] = {}
        self._retry_at: dict[tuple[str, int | None], float] = {}
        self._lock = threading.Lock()
        self._atexit = False

    def get(self, python: str, run_as: int | None) -> Zygote | None:
        """The running zygote for ``python`` as ``run_as`` (started or restarted as needed),
        or None when it cannot start (logged; retried after ``RETRY_S``)."""
        key = (python, run_as)
        with self._lock:
            zygote = self._zygotes.get(key)
            if zygote is not None and zygote.alive:
                return zygote
            if zygote is not None:
                del self._zygotes[key]
                if zygote.owner_pid == os.getpid():
                    log.warning("code sandbox: zygote %s died; starting a new one", zygote.pid)
                    zygote.close()
            if time.monotonic() < self._retry_at.get(key, 0.0):
                return None
            zygote = Zygote(python, run_as)
            try:
                zygote.start()
            except ZygoteUnavailable as exc:
                self._retry_at[key] = time.monotonic() + RETRY_S
                log.warning(
                    "code sandbox: no pre-forked zygote (%s); snippets start a new interpreter "
                    "each (about 45 ms) until it can start; next try in %.0f s",
                    exc.reason,
                    RETRY_S,
                )
                return None
            self._retry_at.pop(key, None)
            if not self._atexit:
                atexit.register(self.close)
                self._atexit = True
            self._zygotes[key] = zygote
            return zygote

    def discard(self, zygote: Zygote) -> None:
        """Forget a zygote that failed a request (the next ``get`` starts a new one)."""
        with self._lock:
            key = (zygote.python, zygote.run_as)
            if self._zygotes.get(key) is zygote:
                del self._zygotes[key]
        zygote.close()

    def close(self) -> None:
        """Stop every zygote this process started."""
        with self._lock:
            zygotes, self._zygotes = list(self._zygotes.values()), {}
        for zygote in zygotes:
            if zygote.owner_pid == os.getpid():
                zygote.close()


#: the zygotes of this process
ZYGOTES = ZygotePool()
