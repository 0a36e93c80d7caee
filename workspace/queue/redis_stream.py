"""Per-run event streams on Redis Streams (SPEC §6): ``{prefix}:events:{run_id}``.

Each entry has two fields: ``seq`` (decimal) and ``event`` (the envelope as JSON). Stream entry
ids are Redis' own (insertion order), not seqs: parallel publishers may insert a lower seq after
a higher one, so :meth:`RedisEventStream.read` selects by the ``seq`` field, not by entry id.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import redis

from workspace.domain.events import Event
from workspace.queue._events import check_publishable, select_after
from workspace.queue._redis import redis_errors, require_bytes
from workspace.queue.ports import DEFAULT_STREAM_MAXLEN, DEFAULT_STREAM_TTL_S

__all__ = ["RedisEventStream"]

# Entries read per backward page when looking for ``seq > after``; doubled on each further page.
_FIRST_PAGE = 32
_MAX_PAGE = 1024

Entry = tuple[bytes, dict[bytes, bytes]]


class RedisEventStream:
    """``client`` is a ``redis.Redis``; its ``socket_timeout`` must be None or longer than the
    longest ``block_ms`` used. The stream does not own the client: ``close()`` leaves it open."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "plait",
        maxlen: int = DEFAULT_STREAM_MAXLEN,
        ttl_s: int = DEFAULT_STREAM_TTL_S,
    ) -> None:
        require_bytes(client)
        self._client = client
        self._prefix = prefix
        self._maxlen = maxlen
        self._ttl_s = ttl_s

    def key(self, run_id: str) -> str:
        return f"{self._prefix}:events:{run_id}"

    def publish(self, events: Sequence[Event]) -> None:
        check_publishable(events)
        if not events:
            return
        pipe = self._client.pipeline(transaction=False)
        keys: dict[str, None] = {}
        for event in events:
            key = self.key(event.run_id)
            keys[key] = None
            fields: dict[Any, Any] = {"seq": event.seq, "event": event.model_dump_json()}
            pipe.xadd(key, fields, maxlen=self._maxlen, approximate=True)
        for key in keys:
            pipe.expire(key, self._ttl_s)
        with redis_errors("publishing events"):
            pipe.execute()

    def read(
        self, run_id: str, *, after: int = 0, block_ms: int = 0, limit: int = 500
    ) -> list[Event]:
        key = self.key(run_id)
        with redis_errors(f"reading the events of run {run_id}"):
            entries, last_id = self._scan(key, after)
            found = select_after(_decode(entries), after, limit)
            deadline = time.monotonic() + max(block_ms, 0) / 1000
            while not found:
                remaining_ms = int((deadline - time.monotonic()) * 1000)
                if remaining_ms <= 0:
                    break
                reply: Any = self._client.xread({key: last_id}, block=remaining_ms)
                new: list[Entry] = reply[0][1] if reply else []
                if new:
                    # A publish batch (one pipeline) may wake us after its first entry; its
                    # other entries are in by the time the reply arrives, so take them too.
                    rest: Any = self._client.xrange(key, min=b"(" + new[-1][0], max="+")
                    new = [*new, *rest]
                    last_id = new[-1][0]
                found = select_after(_decode(new), after, limit)
        return found

    def _scan(self, key: str, after: int) -> tuple[list[Entry], bytes | str]:
        """Entries from the newest backwards until a whole page is at or below ``after`` (or the
        stream starts); plus the newest entry id, the cursor for a blocking read."""
        kept: list[Entry] = []
        newest: bytes | str = "0-0"
        upper: bytes | str = "+"
        page = _FIRST_PAGE
        while True:
            reply: Any = self._client.xrevrange(key, max=upper, min="-", count=page)
            batch: list[Entry] = reply
            if not batch:
                break
            if newest == "0-0":
                newest = batch[0][0]
            newer = [e for e in batch if int(e[1][b"seq"]) > after]
            kept.extend(newer)
            if not newer or len(batch) < page:
                break
            upper = b"(" + batch[-1][0]
            page = min(page * 2, _MAX_PAGE)
        kept.reverse()  # insertion order, so the first publish of a repeated seq wins
        return kept, newest

    def close(self) -> None:
        """Nothing to release; the client belongs to the caller."""


def _decode(entries: Sequence[Entry]) -> list[Event]:
    return [Event.model_validate_json(fields[b"event"]) for _, fields in entries]
