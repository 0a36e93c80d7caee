"""Pending checkpoint writes held back for a moment, so that a task's writes and the checkpoint
that follows them are stored in ONE transaction.

LangGraph saves each finished task's writes (``put_writes``, from a background thread) and then,
once every task of the superstep is done, the next checkpoint (``put``). In a chain the two
come within a millisecond of each other; as two transactions they cost two turns of the
database's write lock, which on SQLite is what limits how many runs a machine finishes per
second. While the process's write lock is taken (writers queue), the checkpointer hands a
task's writes to :class:`WriteBuffer`, which keeps them until the next ``put`` of that thread takes
them into its own transaction, or until they are ``hold_s`` old (a task that finished while a
sibling in the same superstep still runs), when a background thread writes them alone.

The durability window this adds is at most ``hold_s`` for writes of a superstep that has not
ended (LangGraph's own ``put_writes`` already runs in the background); every read of a thread,
and the engine at each stable point of a run (``flush``), writes its pending rows first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: one ``put_writes`` call: (SQL, rows) pairs in the order they must run
Batch = list[tuple[str, list[dict[str, Any]]]]


class WriteBuffer:
    """Per-thread batches of pending writes, and the thread that writes the overdue ones."""

    def __init__(self, write: Callable[[str], None], hold_s: float = 0.02) -> None:
        #: ``write(thread_id)`` takes that thread's batches (``take``) and stores them
        self._write = write
        self._hold_s = hold_s
        self._batches: dict[str, list[Batch]] = {}
        self._since: dict[str, float] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._idle = False

    def add(self, thread_id: str, batch: Batch) -> None:
        with self._lock:
            self._batches.setdefault(thread_id, []).append(batch)
            self._since.setdefault(thread_id, time.monotonic())
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="plait-checkpoint-writes", daemon=True
                )
                self._thread.start()
            elif self._idle:
                self._idle = False
                self._wake.notify()

    def take(self, thread_id: str) -> list[Batch]:
        """The thread's pending batches, oldest first; the caller stores them (or ``restore``s
        them when its transaction fails)."""
        with self._lock:
            self._since.pop(thread_id, None)
            return self._batches.pop(thread_id, [])

    def restore(self, thread_id: str, batches: list[Batch]) -> None:
        """Put back batches a failed transaction did not store (before any newer ones)."""
        if not batches:
            return
        with self._lock:
            self._batches[thread_id] = batches + self._batches.get(thread_id, [])
            self._since[thread_id] = time.monotonic()

    def pending(self, thread_id: str) -> bool:
        return thread_id in self._batches

    def threads(self) -> list[str]:
        with self._lock:
            return list(self._batches)

    def _loop(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                due = [t for t, since in self._since.items() if now - since >= self._hold_s]
                if not due:
                    if self._since:
                        wait = self._hold_s - (now - min(self._since.values()))
                        self._wake.wait(max(wait, 0.001))
                    else:
                        self._idle = True
                        self._wake.wait(5.0)
                        self._idle = False
                    continue
            for thread_id in due:
                try:
                    self._write(thread_id)
                except Exception:  # kept (restored) and tried again after hold_s
                    log.warning("could not store checkpoint writes of %s", thread_id, exc_info=True)
