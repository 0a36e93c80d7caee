"""``AccessRepository`` on SQLAlchemy Core: users and hashed API keys."""

from __future__ import annotations

import builtins
from datetime import timedelta

from sqlalchemy import insert, select, update

from workspace.domain.access import ApiKey, User, key_prefix, secret_matches
from workspace.domain.workflow import utcnow
from workspace.errors import ConflictError, NotFoundError
from workspace.store.engine import AnyRow, Database, IntegrityViolation
from workspace.store.tables import api_keys, users

__all__ = ["SqlAccessRepository"]

#: ``last_used_at`` is refreshed at most this often per key (no write on every request)
LAST_USED_RESOLUTION = timedelta(minutes=1)

_USER_FIELDS = tuple(User.model_fields)
_KEY_FIELDS = tuple(ApiKey.model_fields)


def _user(row: AnyRow) -> User:
    return User.model_validate(dict(zip(_USER_FIELDS, row, strict=True)))


def _key(row: AnyRow) -> ApiKey:
    return ApiKey.model_validate(dict(zip(_KEY_FIELDS, row, strict=True)))


class SqlAccessRepository:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._users = select(*(users.c[f] for f in _USER_FIELDS))
        self._keys = select(*(api_keys.c[f] for f in _KEY_FIELDS))

    def create_user(self, user: User) -> User:
        try:
            with self._db.write() as conn:
                conn.execute(insert(users), [user.model_dump()])
        except IntegrityViolation:
            raise ConflictError(
                f"a user named {user.name!r} already exists", code="user_exists"
            ) from None
        return user

    def get_user(self, user_id: str) -> User:
        with self._db.read() as conn:
            row = conn.execute(self._users.where(users.c.id == user_id)).first()
        if row is None:
            raise NotFoundError(f"user {user_id!r} not found", code="user_not_found")
        return _user(row)

    def find_user(self, name: str) -> User | None:
        with self._db.read() as conn:
            row = conn.execute(self._users.where(users.c.name == name)).first()
        return None if row is None else _user(row)

    def list_users(self) -> builtins.list[User]:
        with self._db.read() as conn:
            return [_user(r) for r in conn.execute(self._users.order_by(users.c.name))]

    def add_key(self, key: ApiKey) -> ApiKey:
        try:
            with self._db.write() as conn:
                conn.execute(insert(api_keys), [key.model_dump()])
        except IntegrityViolation:
            raise NotFoundError(f"user {key.user_id!r} not found", code="user_not_found") from None
        return key

    def list_keys(self, user_id: str | None = None) -> builtins.list[ApiKey]:
        query = self._keys.order_by(api_keys.c.created_at, api_keys.c.id)
        if user_id is not None:
            query = query.where(api_keys.c.user_id == user_id)
        with self._db.read() as conn:
            return [_key(r) for r in conn.execute(query)]

    def revoke_key(self, key_id: str) -> ApiKey:
        with self._db.write() as conn:
            conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            row = conn.execute(self._keys.where(api_keys.c.id == key_id)).first()
        if row is None:
            raise NotFoundError(f"API key {key_id!r} not found", code="key_not_found")
        return _key(row)

    def authenticate(self, secret: str) -> tuple[User, ApiKey] | None:
        prefix = key_prefix(secret)
        if prefix is None:
            return None
        with self._db.read() as conn:
            row = conn.execute(self._keys.where(api_keys.c.prefix == prefix)).first()
        if row is None:
            return None
        key = _key(row)
        if key.revoked_at is not None or not secret_matches(key, secret):
            return None
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            with self._db.write() as conn:
                conn.execute(
                    update(api_keys).where(api_keys.c.id == key.id).values(last_used_at=now)
                )
            key = key.model_copy(update={"last_used_at": now})
        return self.get_user(key.user_id), key
