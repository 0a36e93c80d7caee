"""Fixtures of the scheduler tests: a real Redis (``PLAIT_TEST_REDIS_URL``) for the leader
lock, with a unique key prefix per test, deleted afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from workspace.queue.redis_locks import RedisLocks
from workspace.queue.testing import (
    delete_keys,
    redis_required,
    redis_test_url,
    redis_unavailable_reason,
)


@pytest.fixture
def redis_locks() -> Iterator[RedisLocks]:
    url = redis_test_url()
    reason = redis_unavailable_reason(url)
    if reason:
        if redis_required():
            pytest.fail(reason)
        pytest.skip(reason)
    prefix = f"plait-test-sched-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(url)
    try:
        yield RedisLocks(client, prefix)
    finally:
        delete_keys(client, f"{prefix}*")
        client.close()
