"""The Redis roles of Plait (SPEC §6): the task queue (Dramatiq), per-run event streams, locks
and once-only claims, and the embedded Redis-protocol server of ``plait up``.

Each role is a protocol in :mod:`workspace.queue.ports` with an in-memory implementation and a
Redis one. Importing this package imports no Redis client, no Dramatiq and connects nowhere
(exports are lazy). See README.md in this folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "DramatiqTaskQueue",
    "EmbeddedRedis",
    "EventStream",
    "Locks",
    "MemoryEventStream",
    "MemoryLocks",
    "MemoryTaskQueue",
    "RedisEventStream",
    "RedisLocks",
    "Task",
    "TaskHandler",
    "TaskQueue",
]

if TYPE_CHECKING:
    from workspace.queue.dramatiq_queue import DramatiqTaskQueue
    from workspace.queue.memory import MemoryEventStream, MemoryLocks, MemoryTaskQueue
    from workspace.queue.ports import EventStream, Locks, Task, TaskHandler, TaskQueue
    from workspace.queue.redis_locks import RedisLocks
    from workspace.queue.redis_stream import RedisEventStream
    from workspace.queue.server import EmbeddedRedis

_LAZY = {
    "DramatiqTaskQueue": "workspace.queue.dramatiq_queue",
    "EmbeddedRedis": "workspace.queue.server",
    "EventStream": "workspace.queue.ports",
    "Locks": "workspace.queue.ports",
    "MemoryEventStream": "workspace.queue.memory",
    "MemoryLocks": "workspace.queue.memory",
    "MemoryTaskQueue": "workspace.queue.memory",
    "RedisEventStream": "workspace.queue.redis_stream",
    "RedisLocks": "workspace.queue.redis_locks",
    "Task": "workspace.queue.ports",
    "TaskHandler": "workspace.queue.ports",
    "TaskQueue": "workspace.queue.ports",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workspace.queue' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
