"""Locks and once-only claims on Redis: ``{prefix}:lock:{name}`` holds the owner (SET NX PX),
``{prefix}:once:{key}`` marks a claim. Renew and release compare the owner in a Lua script, so a
holder whose lease expired can never extend or drop someone else's lock."""

from __future__ import annotations

from typing import Any

import redis

from workspace.queue._redis import redis_errors, require_bytes

__all__ = ["RedisLocks"]

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class RedisLocks:
    """``client`` is a ``redis.Redis`` owned by the caller."""

    def __init__(self, client: redis.Redis, prefix: str = "plait") -> None:
        require_bytes(client)
        self._client = client
        self._prefix = prefix
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def _lock_key(self, name: str) -> str:
        return f"{self._prefix}:lock:{name}"

    def acquire(self, name: str, owner: str, ttl_ms: int) -> bool:
        with redis_errors(f"acquiring lock {name}"):
            return bool(self._client.set(self._lock_key(name), owner, nx=True, px=ttl_ms))

    def renew(self, name: str, owner: str, ttl_ms: int) -> bool:
        with redis_errors(f"renewing lock {name}"):
            done: Any = self._renew(keys=[self._lock_key(name)], args=[owner, ttl_ms])
        return bool(done)

    def release(self, name: str, owner: str) -> bool:
        with redis_errors(f"releasing lock {name}"):
            done: Any = self._release(keys=[self._lock_key(name)], args=[owner])
        return bool(done)

    def owner(self, name: str) -> str | None:
        with redis_errors(f"reading lock {name}"):
            value: Any = self._client.get(self._lock_key(name))
        return None if value is None else bytes(value).decode()

    def claim_once(self, key: str, ttl_ms: int) -> bool:
        with redis_errors(f"claiming {key}"):
            return bool(self._client.set(f"{self._prefix}:once:{key}", b"1", nx=True, px=ttl_ms))
