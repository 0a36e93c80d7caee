"""Helpers for tests that need a real Redis (Plait's own suites; importable by any).

``PLAIT_TEST_REDIS_URL`` names the server and database tests may use (default
``redis://127.0.0.1:6379/14``); tests use unique key prefixes and delete their keys.
``PLAIT_REQUIRE_REDIS=1`` (CI) turns "Redis is unreachable" from a skip into a failure.
"""

from __future__ import annotations

import os

import redis

__all__ = [
    "DEFAULT_TEST_REDIS_URL",
    "delete_keys",
    "redis_required",
    "redis_test_url",
    "redis_unavailable_reason",
]

DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/14"


def redis_test_url() -> str:
    return os.environ.get("PLAIT_TEST_REDIS_URL") or DEFAULT_TEST_REDIS_URL


def redis_required() -> bool:
    return os.environ.get("PLAIT_REQUIRE_REDIS", "").strip().lower() not in ("", "0", "false")


def redis_unavailable_reason(url: str | None = None) -> str | None:
    """None if the server answers PING, else why not."""
    url = url or redis_test_url()
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return f"Redis at {url} is unreachable: {exc}"
    finally:
        client.close()
    return None


def delete_keys(client: redis.Redis, pattern: str) -> int:
    """Delete every key matching ``pattern`` (SCAN, never KEYS); return how many."""
    deleted = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=pattern, count=500):
        batch.append(key)
        if len(batch) >= 500:
            deleted += int(client.delete(*batch))
            batch.clear()
    if batch:
        deleted += int(client.delete(*batch))
    return deleted
