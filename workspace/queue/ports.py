"""Interfaces of the Redis roles (SPEC §6): task queue, per-run event streams, locks.

Each protocol has an in-memory implementation (``workspace.queue.memory``) and a Redis one
(``dramatiq_queue``, ``redis_stream``, ``redis_locks``); ``tests/queue`` runs one contract suite
against both. The database stays the source of truth: losing Redis loses no run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from workspace.domain.events import Event

__all__ = [
    "DEFAULT_DEDUPE_TTL_MS",
    "DEFAULT_STREAM_MAXLEN",
    "DEFAULT_STREAM_TTL_S",
    "TASK_KINDS",
    "EventStream",
    "Locks",
    "Task",
    "TaskHandler",
    "TaskQueue",
]

#: The task kinds Plait sends today; ``Task.kind`` stays a plain ``str`` so new kinds need no
#: change here.
TASK_KINDS = ("start", "resume", "recover", "wake")

DEFAULT_STREAM_MAXLEN = 10_000
DEFAULT_STREAM_TTL_S = 86_400
#: How long an explicit message id is remembered so that sending it again is a no-op.
DEFAULT_DEDUPE_TTL_MS = 86_400_000


@dataclass(frozen=True)
class Task:
    """One unit of work for a worker: do ``kind`` for run ``run_id``.

    ``message_id`` given to :meth:`TaskQueue.send` becomes the message id (deterministic producers,
    e.g. the scheduler); the handler receives the task with the id it was delivered under.
    """

    kind: str
    run_id: str
    message_id: str | None = None


TaskHandler = Callable[[Task], None]


class TaskQueue(Protocol):
    def send(self, task: Task, *, delay_ms: int = 0) -> str:
        """Enqueue ``task`` to run no earlier than ``delay_ms`` from now; return the message id.

        An explicit ``task.message_id`` that was already sent (within the queue's dedupe window,
        24 h by default) is not sent again; its id is returned all the same.
        """
        ...

    def backlog(self) -> int:
        """How many tasks wait to be received (best effort; delayed ones not counted). The
        sweeper does not re-send a queued run while tasks wait: its task may be among them."""
        ...

    def close(self) -> None: ...


class EventStream(Protocol):
    """The live path of run events; bounded and expiring.

    The database is the source of truth. The stream keeps only the newest events of a run
    (approximately ``maxlen``), forgets a run ``ttl`` after its last publish, and does not
    guarantee order across parallel publishers. So a consumer keeps the last ``seq`` it saw and,
    whenever the next event it gets is not ``last + 1`` (a gap: trimmed, expired, or a Redis
    restart), fetches the missing range from the database's event log.
    """

    def publish(self, events: Sequence[Event]) -> None:
        """Append events (each with an assigned ``seq`` >= 1; runs may be mixed)."""
        ...

    def read(
        self, run_id: str, *, after: int = 0, block_ms: int = 0, limit: int = 500
    ) -> list[Event]:
        """Events of ``run_id`` with ``seq > after`` that the stream still holds, in ``seq``
        order, at most ``limit`` (the lowest seqs first). If there are none, wait up to
        ``block_ms`` for new ones. Never raises on an empty or missing stream."""
        ...

    def close(self) -> None: ...


class Locks(Protocol):
    """Named leases with an owner and a TTL, and once-only claims (dedupe)."""

    def acquire(self, name: str, owner: str, ttl_ms: int) -> bool:
        """Take the lock if nobody holds it (or the holder's lease expired)."""
        ...

    def renew(self, name: str, owner: str, ttl_ms: int) -> bool:
        """Extend the lease to ``ttl_ms`` from now, only if ``owner`` still holds it."""
        ...

    def release(self, name: str, owner: str) -> bool:
        """Drop the lock, only if ``owner`` holds it."""
        ...

    def owner(self, name: str) -> str | None: ...

    def claim_once(self, key: str, ttl_ms: int) -> bool:
        """True exactly once per ``key`` within ``ttl_ms`` (webhook and scheduler dedupe)."""
        ...
