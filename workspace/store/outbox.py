"""Deferred step records and events, written inside the next checkpoint transaction.

The engine hands a finished node's step record and events to ``EventLog.defer``; they wait here
until LangGraph stores that node's writes (``SqlCheckpointSaver.put_writes``) or the run's next
checkpoint, and are written in the SAME transaction: a step record is never ahead of, nor behind,
the checkpoint that contains its output, and a node costs no transaction of its own. Anything
else the run writes first takes its deferred entries along (order is kept), and ``flush``
writes them on demand (end of a drive, long-running nodes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from workspace.domain.events import Event
from workspace.domain.run import StepRecord

Delivery = Callable[[list[Event]], None]


@dataclass
class Deferred:
    steps: Sequence[StepRecord]
    events: Sequence[Event]
    on_stored: Delivery | None
    #: the writing store's statement parameters, prepared when deferred (None: build them
    #: when written)
    prepared: Any = None


class Outbox:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[Deferred]] = {}

    def add(self, run_id: str, item: Deferred) -> None:
        with self._lock:
            self._pending.setdefault(run_id, []).append(item)

    def take(self, run_ids: Sequence[str] | None = None) -> list[Deferred]:
        """Remove and return the entries of ``run_ids`` (all runs when None), oldest first."""
        with self._lock:
            if run_ids is None:
                items = [i for entries in self._pending.values() for i in entries]
                self._pending.clear()
                return items
            taken: list[Deferred] = []
            for run_id in run_ids:
                taken.extend(self._pending.pop(run_id, ()))
            return taken

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._pending)
