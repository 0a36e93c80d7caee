"""Fixtures of the queue contract suites: each role on its memory and its Redis implementation.

Redis tests use ``PLAIT_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/14``) with a unique
key prefix per test, deleted afterwards. They skip when Redis is unreachable, unless
``PLAIT_REQUIRE_REDIS=1`` (CI), which makes them fail instead.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from tests.queue.fakes import TaskRecorder
from workspace.queue.dramatiq_queue import DramatiqTaskQueue
from workspace.queue.memory import MemoryEventStream, MemoryLocks, MemoryTaskQueue
from workspace.queue.ports import EventStream, Locks, TaskHandler, TaskQueue
from workspace.queue.redis_locks import RedisLocks
from workspace.queue.redis_stream import RedisEventStream
from workspace.queue.testing import (
    delete_keys,
    redis_required,
    redis_test_url,
    redis_unavailable_reason,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "redis: needs the Redis named by PLAIT_TEST_REDIS_URL")


BACKENDS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]

StreamFactory = Callable[..., EventStream]
QueueFactory = Callable[..., TaskQueue]


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = redis_test_url()
    reason = redis_unavailable_reason(url)
    if reason:
        if redis_required():
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A unique key prefix; every key under it is deleted after the test."""
    prefix = f"plait-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        delete_keys(client, f"{prefix}*")
    finally:
        client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(params=BACKENDS)
def make_stream(request: pytest.FixtureRequest) -> Iterator[StreamFactory]:
    made: list[EventStream] = []
    # Redis fixtures are requested before the yield so they are torn down after the streams.
    if request.param == "redis":
        client = request.getfixturevalue("redis_client")
        prefix = request.getfixturevalue("redis_prefix")

    def make(**options: int) -> EventStream:
        stream: EventStream
        if request.param == "memory":
            stream = MemoryEventStream(**options)
        else:
            stream = RedisEventStream(client, prefix, **options)
        made.append(stream)
        return stream

    yield make
    for stream in made:
        stream.close()


@pytest.fixture
def stream(make_stream: StreamFactory) -> EventStream:
    return make_stream()


@pytest.fixture(params=BACKENDS)
def locks(request: pytest.FixtureRequest) -> Locks:
    if request.param == "memory":
        return MemoryLocks()
    return RedisLocks(
        request.getfixturevalue("redis_client"), request.getfixturevalue("redis_prefix")
    )


@pytest.fixture(params=BACKENDS)
def make_queue(request: pytest.FixtureRequest) -> Iterator[QueueFactory]:
    """``make_queue(handler)``: a started queue delivering to ``handler``; stopped afterwards."""
    closers: list[Callable[[], None]] = []
    # Requested before the yield so the keys are deleted after the workers stopped.
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")

    def make(handler: TaskHandler) -> TaskQueue:
        if request.param == "memory":
            memory = MemoryTaskQueue(handler, threads=4)
            closers.append(memory.close)
            return memory
        queue = DramatiqTaskQueue(url, namespace=prefix, poll_ms=50)
        stop = threading.Event()
        worker = threading.Thread(
            target=queue.serve, args=(handler,), kwargs={"threads": 4, "stop": stop}, daemon=True
        )
        worker.start()

        def close() -> None:
            stop.set()
            worker.join(timeout=30)
            queue.close()

        closers.append(close)
        return queue

    yield make
    for close in reversed(closers):
        close()


@pytest.fixture
def recorder() -> TaskRecorder:
    return TaskRecorder()
