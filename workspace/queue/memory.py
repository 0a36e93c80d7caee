"""In-memory implementations of the queue ports (tests, notebooks, single-process use).

They behave like the Redis ones in every way ``tests/queue`` checks: the task queue runs tasks on
a thread pool with delays and id dedupe, the event stream is bounded and expiring with blocking
reads, locks and claims expire on the monotonic clock.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from workspace.domain.events import Event
from workspace.errors import ConflictError, ValidationError
from workspace.queue._events import check_publishable, select_after
from workspace.queue.ports import (
    DEFAULT_DEDUPE_TTL_MS,
    DEFAULT_STREAM_MAXLEN,
    DEFAULT_STREAM_TTL_S,
    Task,
    TaskHandler,
)

__all__ = ["MemoryEventStream", "MemoryLocks", "MemoryTaskQueue"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class _Expiring:
    """Keys that are forgotten at a deadline (seconds on ``clock``)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._deadlines: dict[str, float] = {}
        self._next_prune = 0.0

    def add_if_absent(self, key: str, ttl_s: float) -> bool:
        now = self._clock()
        self._prune(now)
        deadline = self._deadlines.get(key)
        if deadline is not None and deadline > now:
            return False
        self._deadlines[key] = now + ttl_s
        return True

    def _prune(self, now: float) -> None:
        if now < self._next_prune:
            return
        self._next_prune = now + 1.0
        for key in [k for k, d in self._deadlines.items() if d <= now]:
            del self._deadlines[key]


class MemoryTaskQueue:
    """Runs each task on a pool of ``threads`` threads in this process.

    An exception in the handler is logged and does not stop the queue. ``close()`` cancels
    delayed tasks not yet due and waits for running ones.
    """

    def __init__(
        self,
        handler: TaskHandler,
        threads: int = 4,
        *,
        dedupe_ttl_ms: int = DEFAULT_DEDUPE_TTL_MS,
        clock: Clock = time.monotonic,
    ) -> None:
        if threads < 1:
            raise ValidationError("threads must be at least 1", code="invalid_threads")
        self._handler = handler
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="plait-task")
        self._lock = threading.Lock()
        self._timers: set[threading.Timer] = set()
        self._sent = _Expiring(clock)
        self._dedupe_ttl_s = dedupe_ttl_ms / 1000
        self._closed = False

    def backlog(self) -> int:
        return self._pool._work_queue.qsize()  # submitted, not yet taken by a pool thread

    def send(self, task: Task, *, delay_ms: int = 0) -> str:
        message_id = task.message_id or uuid.uuid4().hex
        delivered = replace(task, message_id=message_id)
        with self._lock:
            if self._closed:
                raise ConflictError("the task queue is closed", code="queue_closed")
            if task.message_id is not None and not self._sent.add_if_absent(
                message_id, self._dedupe_ttl_s
            ):
                return message_id
            if delay_ms > 0:
                timer = threading.Timer(delay_ms / 1000, self._due, args=(delivered,))
                timer.daemon = True
                timer.name = "plait-task-timer"
                self._timers.add(timer)
                timer.start()
            else:
                self._pool.submit(self._run, delivered)
        return message_id

    def _due(self, task: Task) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t is not threading.current_thread()}
            if self._closed:
                return
            self._pool.submit(self._run, task)

    def _run(self, task: Task) -> None:
        try:
            self._handler(task)
        except Exception:
            log.exception("task %s for run %s failed", task.kind, task.run_id)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        self._pool.shutdown(wait=True)


class MemoryEventStream:
    """Per-run bounded deques; a run is forgotten ``ttl_s`` after its last publish."""

    def __init__(
        self,
        *,
        maxlen: int = DEFAULT_STREAM_MAXLEN,
        ttl_s: float = DEFAULT_STREAM_TTL_S,
        clock: Clock = time.monotonic,
    ) -> None:
        self._maxlen = maxlen
        self._ttl_s = ttl_s
        self._clock = clock
        self._changed = threading.Condition()
        self._runs: dict[str, deque[Event]] = {}
        self._expires: dict[str, float] = {}
        self._next_sweep = 0.0
        self._closed = False

    def publish(self, events: Sequence[Event]) -> None:
        check_publishable(events)
        if not events:
            return
        with self._changed:
            now = self._clock()
            self._expire(now)
            for event in events:
                held = self._runs.get(event.run_id)
                if held is None:
                    held = self._runs[event.run_id] = deque(maxlen=self._maxlen)
                held.append(event)
                self._expires[event.run_id] = now + self._ttl_s
            self._changed.notify_all()

    def read(
        self, run_id: str, *, after: int = 0, block_ms: int = 0, limit: int = 500
    ) -> list[Event]:
        deadline = time.monotonic() + max(block_ms, 0) / 1000
        with self._changed:
            while True:
                self._expire(self._clock())
                found = select_after(self._runs.get(run_id, ()), after, limit)
                remaining = deadline - time.monotonic()
                if found or remaining <= 0 or self._closed:
                    return found
                self._changed.wait(remaining)

    def _expire(self, now: float) -> None:
        # a full scan at most once a second: publishing stays O(1) per event
        if now < self._next_sweep:
            return
        self._next_sweep = now + min(1.0, self._ttl_s)
        for run_id in [r for r, t in self._expires.items() if t <= now]:
            del self._expires[run_id]
            self._runs.pop(run_id, None)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()


class MemoryLocks:
    """Leases and claims in a dict, expiring on the monotonic clock."""

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._held: dict[str, tuple[str, float]] = {}
        self._claims = _Expiring(clock)

    def _current(self, name: str) -> str | None:
        held = self._held.get(name)
        if held is None:
            return None
        if held[1] <= self._clock():
            del self._held[name]
            return None
        return held[0]

    def acquire(self, name: str, owner: str, ttl_ms: int) -> bool:
        with self._lock:
            if self._current(name) is not None:
                return False
            self._held[name] = (owner, self._clock() + ttl_ms / 1000)
            return True

    def renew(self, name: str, owner: str, ttl_ms: int) -> bool:
        with self._lock:
            if self._current(name) != owner:
                return False
            self._held[name] = (owner, self._clock() + ttl_ms / 1000)
            return True

    def release(self, name: str, owner: str) -> bool:
        with self._lock:
            if self._current(name) != owner:
                return False
            del self._held[name]
            return True

    def owner(self, name: str) -> str | None:
        with self._lock:
            return self._current(name)

    def claim_once(self, key: str, ttl_ms: int) -> bool:
        with self._lock:
            return self._claims.add_if_absent(key, ttl_ms / 1000)
