"""``MemoryRepository`` on SQLAlchemy Core (tables ``memory_items``, ``memory_identities``).

Keyword search filters in SQL (``search_text`` contains a term, wildcards escaped) and ranks
the newest matches in Python with the same function as the in-memory store."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, insert, or_, select, update

from workspace.domain.memory import (
    Identity,
    MemoryAddress,
    MemoryItem,
    MemoryKind,
    rank,
    search_text,
)
from workspace.domain.workflow import utcnow
from workspace.store.engine import AnyRow, Database, IntegrityViolation
from workspace.store.memory_memories import (
    SEARCH_CANDIDATES,
    SIMILAR_CANDIDATES,
    best_matches,
    stored_item,
)
from workspace.store.tables import memory_identities, memory_items

__all__ = ["SqlMemoryRepository"]

_ITEM_FIELDS = tuple(MemoryItem.model_fields)
_IDENTITY_FIELDS = tuple(Identity.model_fields)
_T = memory_items


def _item(row: AnyRow) -> MemoryItem:
    data: dict[str, Any] = dict(zip(_ITEM_FIELDS, row, strict=True))
    data["tags"] = tuple(data["tags"] or ())
    if data["embedding"] is not None:
        data["embedding"] = tuple(data["embedding"])
    return MemoryItem.model_validate(data)


def _identity(row: AnyRow) -> Identity:
    return Identity.model_validate(dict(zip(_IDENTITY_FIELDS, row, strict=True)))


def _row(item: MemoryItem) -> dict[str, Any]:
    data = item.model_dump(mode="python")
    data["scope"] = item.scope.value
    data["kind"] = item.kind.value
    data["tags"] = list(item.tags)
    data["embedding"] = None if item.embedding is None else list(item.embedding)
    data["search_text"] = search_text(item)
    return data


def _where(address: MemoryAddress) -> ColumnElement[bool]:
    return and_(
        _T.c.space == address.space,
        _T.c.scope == address.scope.value,
        _T.c.scope_key == address.scope_key,
    )


def _anywhere(addresses: Sequence[MemoryAddress]) -> ColumnElement[bool]:
    return or_(*(_where(a) for a in dict.fromkeys(addresses)))


class SqlMemoryRepository:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._select = select(*(_T.c[f] for f in _ITEM_FIELDS))
        self._newest = (_T.c.updated_at.desc(), _T.c.id)

    def put(self, item: MemoryItem) -> MemoryItem:
        stored = stored_item(item)
        for _attempt in range(3):
            try:
                return self._put(stored)
            except IntegrityViolation:  # another writer added the key meanwhile: update it
                continue
        return self._put(stored)

    def _put(self, stored: MemoryItem) -> MemoryItem:
        with self._db.write() as conn:
            if stored.key is not None:
                old = conn.execute(
                    select(_T.c.id, _T.c.created_at).where(
                        _where(stored.address), _T.c.key == stored.key
                    )
                ).first()
                if old is not None:
                    stored = stored.model_copy(
                        update={"id": old.id, "created_at": old.created_at, "updated_at": utcnow()}
                    )
                    values = _row(stored)
                    del values["id"]
                    conn.execute(update(_T).where(_T.c.id == old.id).values(**values))
                    return stored
            conn.execute(insert(_T), [_row(stored)])
        return stored

    def get(self, address: MemoryAddress, key: str) -> MemoryItem | None:
        with self._db.read() as conn:
            row = conn.execute(self._select.where(_where(address), _T.c.key == key)).first()
        return None if row is None else _item(row)

    def list(
        self,
        address: MemoryAddress,
        *,
        kind: MemoryKind | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[MemoryItem]:
        query = self._select.where(_where(address))
        if kind is not None:
            query = query.where(_T.c.kind == kind.value)
        query = query.order_by(*self._newest).limit(limit).offset(offset)
        with self._db.read() as conn:
            return [_item(r) for r in conn.execute(query)]

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
        query = self._select.where(
            _anywhere(addresses),
            or_(*(_T.c.search_text.contains(t, autoescape=True) for t in terms)),
        )
        if kind is not None:
            query = query.where(_T.c.kind == kind.value)
        query = query.order_by(*self._newest).limit(SEARCH_CANDIDATES)
        with self._db.read() as conn:
            candidates = [_item(r) for r in conn.execute(query)]
        return rank(candidates, terms, limit)

    def similar(
        self,
        addresses: Sequence[MemoryAddress],
        vector: Sequence[float],
        *,
        kind: MemoryKind | None = None,
        limit: int = 10,
    ) -> builtins.list[tuple[MemoryItem, float]]:
        if not addresses:
            return []
        query = self._select.where(_anywhere(addresses), _T.c.embedding.is_not(None))
        if kind is not None:
            query = query.where(_T.c.kind == kind.value)
        query = query.order_by(*self._newest).limit(SIMILAR_CANDIDATES)
        with self._db.read() as conn:
            candidates = [_item(r) for r in conn.execute(query)]
        return best_matches(candidates, vector, limit)

    def forget(self, address: MemoryAddress, key: str) -> bool:
        with self._db.write() as conn:
            done = conn.execute(delete(_T).where(_where(address), _T.c.key == key)).rowcount
        return bool(done)

    def clear(self, address: MemoryAddress) -> int:
        with self._db.write() as conn:
            return int(conn.execute(delete(_T).where(_where(address))).rowcount)

    def link(self, identity: Identity) -> Identity:
        t = memory_identities
        now = utcnow()
        where = and_(
            t.c.space == identity.space,
            t.c.channel == identity.channel,
            t.c.external_id == identity.external_id,
        )
        for _attempt in range(3):
            try:
                with self._db.write() as conn:
                    created = conn.execute(select(t.c.created_at).where(where)).scalar()
                    stored = identity.model_copy(
                        update={"created_at": created or identity.created_at, "updated_at": now}
                    )
                    if created is None:
                        conn.execute(insert(t), [stored.model_dump()])
                    else:
                        conn.execute(
                            update(t)
                            .where(where)
                            .values(
                                user_id=stored.user_id,
                                display_name=stored.display_name,
                                updated_at=now,
                            )
                        )
                return stored
            except IntegrityViolation:  # linked concurrently: update that row
                continue
        raise IntegrityViolation("the identity could not be stored")

    def identity(self, space: str, channel: str, external_id: str) -> Identity | None:
        t = memory_identities
        with self._db.read() as conn:
            row = conn.execute(
                select(*(t.c[f] for f in _IDENTITY_FIELDS)).where(
                    t.c.space == space, t.c.channel == channel, t.c.external_id == external_id
                )
            ).first()
        return None if row is None else _identity(row)

    def identities(self, space: str, user_id: str) -> builtins.list[Identity]:
        t = memory_identities
        query = (
            select(*(t.c[f] for f in _IDENTITY_FIELDS))
            .where(t.c.space == space, t.c.user_id == user_id)
            .order_by(t.c.channel, t.c.external_id)
        )
        with self._db.read() as conn:
            return [_identity(r) for r in conn.execute(query)]
