"""What only the Redis implementations have: the key layout, client checks, readiness."""

from __future__ import annotations

import pytest
import redis

from workspace.domain.events import Event, EventType
from workspace.errors import ConfigurationError, StoreError
from workspace.queue.dramatiq_queue import DramatiqTaskQueue
from workspace.queue.ports import Task
from workspace.queue.redis_locks import RedisLocks
from workspace.queue.redis_stream import RedisEventStream

pytestmark = pytest.mark.redis


def test_key_layout(redis_client: redis.Redis, redis_prefix: str, redis_url: str) -> None:
    stream = RedisEventStream(redis_client, redis_prefix, ttl_s=600)
    stream.publish([Event(seq=1, run_id="r1", workflow="wf", version=1, type=EventType.TOKEN)])
    key = f"{redis_prefix}:events:r1"
    assert redis_client.type(key) == b"stream"
    assert 590 <= int(redis_client.ttl(key)) <= 600
    entry = redis_client.xrange(key)[0][1]
    assert entry[b"seq"] == b"1" and b'"run_id":"r1"' in entry[b"event"]

    locks = RedisLocks(redis_client, redis_prefix)
    assert locks.acquire("leader", "me", 10_000)
    assert redis_client.get(f"{redis_prefix}:lock:leader") == b"me"
    assert locks.claim_once("hook", 10_000)
    assert redis_client.exists(f"{redis_prefix}:once:hook")

    queue = DramatiqTaskQueue(redis_url, namespace=redis_prefix)
    try:
        queue.send(Task("start", "r1", message_id="m-1"), delay_ms=60_000)
        queue.send(Task("start", "r2"))
    finally:
        queue.close()
    assert redis_client.exists(f"{redis_prefix}:sent:m-1")
    assert redis_client.llen(f"{redis_prefix}:plait") == 1
    assert redis_client.llen(f"{redis_prefix}:plait.DQ") == 1


def test_a_decoding_client_is_refused(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        with pytest.raises(ConfigurationError) as info:
            RedisEventStream(client)
        assert info.value.code == "redis_client_decodes"
        with pytest.raises(ConfigurationError):
            RedisLocks(client)
    finally:
        client.close()


def test_ping(redis_url: str) -> None:
    up = DramatiqTaskQueue(redis_url)
    down = DramatiqTaskQueue("redis://127.0.0.1:1/0")
    try:
        assert up.ping()
        assert not down.ping()
        with pytest.raises(StoreError) as info:
            down.send(Task("start", "r1"))
        assert info.value.code == "redis_unavailable"
    finally:
        up.close()
        down.close()


def test_unreachable_redis_is_a_store_error() -> None:
    client = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    try:
        with pytest.raises(StoreError):
            RedisEventStream(client).read("r1")
        with pytest.raises(StoreError):
            RedisLocks(client).owner("x")
    finally:
        client.close()
