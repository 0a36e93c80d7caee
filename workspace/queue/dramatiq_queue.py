"""The task queue on Dramatiq's ``RedisBroker`` (SPEC §4.6, §6).

One actor, ``plait_task(kind, run_id)``, on one queue (``plait`` by default), declared on a
broker this object owns; Dramatiq's global broker is neither used nor changed. A message is
acknowledged when the handler returns (or after its retries are exhausted); a worker killed
mid-task leaves its message unacknowledged, and Redis gives it to another worker once the dead
worker's heartbeat is ``heartbeat_timeout_ms`` old and a broker call on that queue happens to run
maintenance (``maintenance_chance`` in a million calls). See README.md for measured timings.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from workspace.errors import ConflictError
from workspace.queue._redis import redis_errors
from workspace.queue.ports import DEFAULT_DEDUPE_TTL_MS, Task, TaskHandler

__all__ = ["ACTOR_NAME", "DramatiqTaskQueue"]

log = logging.getLogger(__name__)

ACTOR_NAME = "plait_task"
#: Runs may last long; the engine enforces run and node time limits itself.
TIME_LIMIT_MS = 24 * 3600 * 1000
#: An exception in the handler means the worker crashed mid-task (the engine records run
#: failures itself), so only a few retries.
MAX_RETRIES = 3


def declare_task_actor(
    broker: dramatiq.Broker, queue_name: str, call: TaskHandler
) -> dramatiq.Actor[Any, None]:
    """Declare ``plait_task`` on ``broker``; each message becomes ``call(Task(...))``."""

    def plait_task(kind: str, run_id: str) -> None:
        message = CurrentMessage.get_current_message()
        call(Task(kind=kind, run_id=run_id, message_id=message.message_id if message else None))

    actor: dramatiq.Actor[Any, None] = dramatiq.Actor(
        plait_task,
        broker=broker,
        actor_name=ACTOR_NAME,
        queue_name=queue_name,
        priority=0,
        options={"time_limit": TIME_LIMIT_MS, "max_retries": MAX_RETRIES},
    )
    return actor


class DramatiqTaskQueue:
    """Producer (:meth:`send`) and, optionally, consumer (:meth:`serve`) of Plait tasks.

    Redis keys live under ``namespace`` (see README.md); an explicit message id is remembered
    for ``dedupe_ttl_ms`` at ``{namespace}:sent:{id}`` so sending it again is a no-op.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "plait:dq",
        queue_name: str = "plait",
        heartbeat_timeout_ms: int = 15_000,
        maintenance_chance: int = 100_000,
        poll_ms: int = 500,
        stop_timeout_ms: int = 10_000,
        dedupe_ttl_ms: int = DEFAULT_DEDUPE_TTL_MS,
    ) -> None:
        self._namespace = namespace
        self._queue_name = queue_name
        self._poll_ms = poll_ms
        self._stop_timeout_ms = stop_timeout_ms
        self._dedupe_ttl_ms = dedupe_ttl_ms
        self._broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=url,
            namespace=namespace,
            heartbeat_timeout=heartbeat_timeout_ms,
            maintenance_chance=maintenance_chance,
        )
        self._broker.add_middleware(CurrentMessage())
        self._handler: TaskHandler | None = None
        self._actor = declare_task_actor(self._broker, queue_name, self._dispatch)
        self._lock = threading.Lock()
        self._served = False
        self._closed = False

    @property
    def broker(self) -> RedisBroker:
        return self._broker

    @property
    def queue_name(self) -> str:
        return self._queue_name

    def backlog(self) -> int:
        client: redis.Redis = self._broker.client
        with redis_errors("reading the task queue's length"):
            return int(client.llen(f"{self._namespace}:{self._queue_name}"))

    def send(self, task: Task, *, delay_ms: int = 0) -> str:
        if self._closed:
            raise ConflictError("the task queue is closed", code="queue_closed")
        message_id = task.message_id or str(uuid.uuid4())
        client: redis.Redis = self._broker.client
        with redis_errors(f"enqueueing task {task.kind} for run {task.run_id}"):
            if task.message_id is not None and not client.set(
                f"{self._namespace}:sent:{message_id}", b"1", nx=True, px=self._dedupe_ttl_ms
            ):
                return message_id
            message: dramatiq.Message[Any] = dramatiq.Message(
                queue_name=self._queue_name,
                actor_name=ACTOR_NAME,
                args=(task.kind, task.run_id),
                kwargs={},
                options={},
                message_id=message_id,
            )
            try:
                self._broker.enqueue(message, delay=delay_ms if delay_ms > 0 else None)
            except BaseException:
                if task.message_id is not None:
                    client.delete(f"{self._namespace}:sent:{message_id}")
                raise
        return message_id

    def _dispatch(self, task: Task) -> None:
        handler = self._handler
        if handler is None:  # a message arrived after serve() returned
            raise ConflictError("this task queue is not serving", code="queue_not_serving")
        handler(task)

    def serve(self, handler: TaskHandler, *, threads: int = 8, stop: threading.Event) -> None:
        """Run a Dramatiq worker in this process until ``stop`` is set, then stop it.

        At most once per instance. Errors of the worker are logged, not raised (a
        ``KeyboardInterrupt`` still propagates, after the worker is stopped). Tasks still running
        when the stop timeout passes keep their thread; their messages stay unacknowledged and
        are redelivered after the heartbeat timeout, so the handler should honour its own
        cancellation when the process shuts down.
        """
        with self._lock:
            if self._served or self._closed:
                raise ConflictError(
                    "serve() runs once per DramatiqTaskQueue", code="queue_already_served"
                )
            self._served = True
        self._handler = handler
        # An in-process Worker does not boot the TimeLimit middleware by itself.
        self._broker.emit_after("process_boot")
        worker = dramatiq.Worker(self._broker, worker_threads=threads, worker_timeout=self._poll_ms)
        try:
            worker.start()
            stop.wait()
        except Exception:
            log.exception("the task worker failed")
        finally:
            try:
                worker.stop(timeout=self._stop_timeout_ms)
            except Exception:
                log.exception("stopping the task worker failed")
            self._handler = None

    def ping(self) -> bool:
        try:
            return bool(self._broker.client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._broker.close()
        self._broker.client.connection_pool.disconnect()
