"""``MemoryRepository`` in process memory (agent memory: facts, episodes, identities)."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Sequence

from workspace.domain.memory import (
    Identity,
    MemoryAddress,
    MemoryItem,
    MemoryKind,
    content_of,
    cosine,
    rank,
    search_text,
)
from workspace.domain.workflow import utcnow
from workspace.store._codec import json_value, utc

__all__ = ["SEARCH_CANDIDATES", "SIMILAR_CANDIDATES", "MemoryMemoryRepository", "stored_item"]

#: the keyword search ranks at most this many of the newest matches
SEARCH_CANDIDATES = 2_000
#: the vector search compares at most this many of the newest items with a vector
SIMILAR_CANDIDATES = 5_000


def stored_item(item: MemoryItem) -> MemoryItem:
    """The item as both stores keep it: the value a JSON copy, content filled, UTC times."""
    value = json_value(item.value, what="memory value")
    vector = item.embedding
    return item.model_copy(
        update={
            "value": value,
            "content": item.content or ("" if value is None else content_of(value)),
            "created_at": utc(item.created_at),
            "updated_at": utc(item.updated_at),
            "embedding": None if vector is None else tuple(float(x) for x in vector),
        }
    )


def newest_first(items: Sequence[MemoryItem]) -> builtins.list[MemoryItem]:
    return sorted(items, key=lambda i: (-i.updated_at.timestamp(), i.id))


class MemoryMemoryRepository:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, MemoryItem] = {}
        self._identities: dict[tuple[str, str, str], Identity] = {}

    def _at(
        self, addresses: Sequence[MemoryAddress], kind: MemoryKind | None
    ) -> builtins.list[MemoryItem]:
        wanted = set(addresses)
        return [
            i
            for i in self._items.values()
            if i.address in wanted and (kind is None or i.kind == kind)
        ]

    def put(self, item: MemoryItem) -> MemoryItem:
        stored = stored_item(item)
        with self._lock:
            if stored.key is not None:
                old = self._find(stored.address, stored.key)
                if old is not None:
                    del self._items[old.id]
                    stored = stored.model_copy(
                        update={"id": old.id, "created_at": old.created_at, "updated_at": utcnow()}
                    )
            self._items[stored.id] = stored
        return stored.model_copy(deep=True)

    def _find(self, address: MemoryAddress, key: str) -> MemoryItem | None:
        return next(
            (i for i in self._items.values() if i.address == address and i.key == key), None
        )

    def get(self, address: MemoryAddress, key: str) -> MemoryItem | None:
        with self._lock:
            found = self._find(address, key)
        return None if found is None else found.model_copy(deep=True)

    def list(
        self,
        address: MemoryAddress,
        *,
        kind: MemoryKind | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[MemoryItem]:
        with self._lock:
            items = newest_first(self._at([address], kind))
        return [i.model_copy(deep=True) for i in items[offset : offset + limit]]

    def search(
        self,
        addresses: Sequence[MemoryAddress],
        terms: Sequence[str],
        *,
        kind: MemoryKind | None = None,
        limit: int = 10,
    ) -> builtins.list[tuple[MemoryItem, float]]:
        if not terms or not addresses:
            return []
        with self._lock:
            matches = [
                i for i in self._at(addresses, kind) if any(t in search_text(i) for t in terms)
            ]
        candidates = newest_first(matches)[:SEARCH_CANDIDATES]
        return [(i.model_copy(deep=True), s) for i, s in rank(candidates, terms, limit)]

    def similar(
        self,
        addresses: Sequence[MemoryAddress],
        vector: Sequence[float],
        *,
        kind: MemoryKind | None = None,
        limit: int = 10,
    ) -> builtins.list[tuple[MemoryItem, float]]:
        with self._lock:
            items = [i for i in self._at(addresses, kind) if i.embedding is not None]
        candidates = newest_first(items)[:SIMILAR_CANDIDATES]
        return best_matches(candidates, vector, limit)

    def forget(self, address: MemoryAddress, key: str) -> bool:
        with self._lock:
            found = self._find(address, key)
            if found is None:
                return False
            del self._items[found.id]
            return True

    def clear(self, address: MemoryAddress) -> int:
        with self._lock:
            doomed = [i.id for i in self._items.values() if i.address == address]
            for item_id in doomed:
                del self._items[item_id]
        return len(doomed)

    def link(self, identity: Identity) -> Identity:
        key = (identity.space, identity.channel, identity.external_id)
        stored = identity.model_copy(
            update={"created_at": utc(identity.created_at), "updated_at": utcnow()}
        )
        with self._lock:
            old = self._identities.get(key)
            if old is not None:
                stored = stored.model_copy(update={"created_at": old.created_at})
            self._identities[key] = stored
        return stored.model_copy()

    def identity(self, space: str, channel: str, external_id: str) -> Identity | None:
        with self._lock:
            found = self._identities.get((space, channel, external_id))
        return None if found is None else found.model_copy()

    def identities(self, space: str, user_id: str) -> builtins.list[Identity]:
        with self._lock:
            found = [
                i for i in self._identities.values() if i.space == space and i.user_id == user_id
            ]
        return [i.model_copy() for i in sorted(found, key=lambda i: (i.channel, i.external_id))]


def best_matches(
    items: Sequence[MemoryItem], vector: Sequence[float], limit: int
) -> builtins.list[tuple[MemoryItem, float]]:
    """``items`` by cosine similarity to ``vector``, best first (ties: newest, then id)."""
    scored = [(i, round(cosine(i.embedding or (), vector), 6)) for i in items]
    scored.sort(key=lambda p: (-p[1], -p[0].updated_at.timestamp(), p[0].id))
    return [(i.model_copy(deep=True), s) for i, s in scored[:limit]]
