"""Persists step records and events for running nodes, with as few transactions as possible.

A node's ``node_started`` event (and its ``running`` step record) is held back for a moment:
a node that finishes quickly is recorded in ONE transaction with its result; a node still
running after ``hold_s`` is flushed by a background thread so watchers see it start. Anything
else a run emits first flushes that run's held starts, so per-node order (started before
anything the node emits, before finished) always holds in the log.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from workspace.domain.events import Event
from workspace.domain.ports import EventSink
from workspace.domain.run import Run, RunStatus, StepRecord

StepKey = tuple[str, str, str]  # run id, node id, iteration


@dataclass
class _Held:
    step: StepRecord
    event: Event
    since: float = field(default_factory=time.monotonic)


class StepRecorder:
    def __init__(self, sink: EventSink, hold_s: float = 0.05) -> None:
        self._sink = sink
        self._hold_s = hold_s
        self._held: dict[StepKey, _Held] = {}
        # guards _held and is held while writing, so a start is always stored before its node's
        # later events; re-entrant because event subscribers may emit from inside a write
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        #: the flusher waits for a first held start (and must be woken); otherwise it is
        #: already due to look again within ``hold_s`` and a new start needs no wake-up
        self._idle = False

    # -- API used by the engine ------------------------------------------------------------------

    def begin(self, step: StepRecord, event: Event) -> None:
        """A node started: remember its running record and start event (flushed later)."""
        key = (step.run_id, step.node_id, step.iteration)
        with self._lock:
            self._held[key] = _Held(step, event)
            if self._thread is None or not self._thread.is_alive():
                self._start_flusher()
            elif self._idle:
                # one wake-up per burst of activity, not one per node: a node that ends within
                # ``hold_s`` is gone before the flusher looks again
                self._idle = False
                self._wake.notify()

    def finish(self, step: StepRecord, events: Sequence[Event], *, defer: bool = False) -> None:
        """A node finished (or changed state): store its record and events with its held start
        — now, or with ``defer`` together with the node's checkpoint write."""
        key = (step.run_id, step.node_id, step.iteration)
        with self._lock:
            held = self._held.pop(key, None)
            batch = [held.event, *events] if held else list(events)
            try:
                if defer:
                    self._sink.defer([step], batch)
                else:
                    self._sink.record([step], batch)
            except BaseException:
                if held is not None:  # nothing was stored: the start stays held (and flushed)
                    self._held[key] = held
                raise

    def emit(self, run_id: str, events: Sequence[Event]) -> list[Event]:
        """Other events of a run: its held starts go first, in the same transaction."""
        with self._lock:
            held = sorted(
                (h for k, h in self._held.items() if k[0] == run_id), key=lambda h: h.since
            )
            stored = self._sink.record([h.step for h in held], [*(h.event for h in held), *events])
            for h in held:
                self._held.pop((h.step.run_id, h.step.node_id, h.step.iteration), None)
        return stored[len(held) :]

    def transition(
        self,
        run_id: str,
        target: RunStatus,
        fields: dict[str, Any],
        events: Sequence[Event],
        *,
        created: Sequence[Run] = (),
    ) -> Run:
        """Change the run's status and store ``events`` (and the new runs ``created``) with
        it, in one transaction (its held starts go first); a refused transition raises and
        stores nothing."""
        with self._lock:
            held = sorted(
                (h for k, h in self._held.items() if k[0] == run_id), key=lambda h: h.since
            )
            run = self._sink.transition(
                run_id,
                target,
                fields,
                [h.step for h in held],
                [*(h.event for h in held), *events],
                created=created,
            )
            for h in held:
                self._held.pop((h.step.run_id, h.step.node_id, h.step.iteration), None)
        return run

    def create(self, run: Run, events: Sequence[Event]) -> Run:
        """Store a new run with its first events in one transaction."""
        return self._sink.create(run, events)

    def flush(self, run_id: str) -> None:
        """Write the run's held starts and deferred results now."""
        with self._lock:
            self._write_locked(lambda k, h: k[0] == run_id)
            self._sink.flush(run_id)

    # -- background flusher ----------------------------------------------------------------------

    def _start_flusher(self) -> None:
        self._idle = False
        self._thread = threading.Thread(target=self._loop, name="plait-step-flusher", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        with self._lock:
            while True:
                if not self._held:
                    self._idle = True
                    self._wake.wait(timeout=5.0)
                    if not self._idle:  # woken by a start: it cannot be due before hold_s
                        self._wake.wait(timeout=self._hold_s)
                    continue
                oldest = min(h.since for h in self._held.values())
                delay = oldest + self._hold_s - time.monotonic()
                if delay > 0:
                    self._wake.wait(timeout=delay)
                    continue
                try:
                    self._write_locked(partial(_held_since_before, time.monotonic() - self._hold_s))
                except Exception:  # the store is down: keep the entries, try again shortly
                    self._wake.wait(timeout=self._hold_s)

    def _write_locked(self, pick: Callable[[StepKey, _Held], bool]) -> None:
        chosen = [(k, h) for k, h in self._held.items() if pick(k, h)]
        if not chosen:
            return
        chosen.sort(key=lambda kh: kh[1].since)
        self._sink.record([h.step for _, h in chosen], [h.event for _, h in chosen])
        for k, _ in chosen:
            self._held.pop(k, None)


def _held_since_before(cutoff: float, key: StepKey, held: _Held) -> bool:
    return held.since <= cutoff
