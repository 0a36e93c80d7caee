"""Connecting a workspace to Redis: the workers' task queue and the cross-process event stream."""

from __future__ import annotations

from pathlib import Path

import redis

from workspace.errors import ConfigurationError
from workspace.queue.dramatiq_queue import DramatiqTaskQueue
from workspace.queue.redis_stream import RedisEventStream
from workspace.queue.server import EmbeddedRedis


def redis_channels(url: str) -> tuple[DramatiqTaskQueue, RedisEventStream]:
    """The task queue and event stream on the Redis at ``url`` (not contacted yet: a Redis
    that is down only shows when a task or event is sent)."""
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=2, health_check_interval=10, retry_on_timeout=True
        )
    except ValueError as exc:
        raise ConfigurationError(
            f"invalid Redis URL {url!r}: {exc}", code="bad_redis_url"
        ) from None
    return DramatiqTaskQueue(url), RedisEventStream(client)


def embedded_redis(workspace_dir: Path) -> EmbeddedRedis:
    """The Redis-protocol server ``plait up`` runs for a workspace folder."""
    return EmbeddedRedis(Path(workspace_dir) / ".plait" / "redis")


def running_embedded_redis(workspace_dir: Path) -> str | None:
    """The URL of the folder's embedded Redis if it is up (its ``plait up`` is running)."""
    server = embedded_redis(workspace_dir)
    return server.url if server.alive() else None
