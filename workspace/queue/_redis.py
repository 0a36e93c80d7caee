"""Helpers the Redis-backed roles share: error translation and the client check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from workspace.errors import ConfigurationError, StoreError

__all__ = ["redis_errors", "require_bytes"]


@contextmanager
def redis_errors(what: str) -> Iterator[None]:
    """Redis client failures become ``StoreError(code="redis_unavailable")``."""
    try:
        yield
    except redis.RedisError as exc:
        raise StoreError(f"{what}: Redis failed: {exc}", code="redis_unavailable") from exc


def require_bytes(client: redis.Redis) -> None:
    """The Redis roles read raw bytes; a client built with ``decode_responses=True`` is refused."""
    if client.connection_pool.connection_kwargs.get("decode_responses"):
        raise ConfigurationError(
            "the Redis client must be created with decode_responses=False",
            code="redis_client_decodes",
        )
