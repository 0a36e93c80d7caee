"""``CredentialRepository`` on SQLAlchemy Core (ciphertexts only; see ``workspace.vault``)."""

from __future__ import annotations

import builtins
from collections.abc import Callable

from sqlalchemy import delete, insert, select, update

from workspace.domain.credentials import Credential
from workspace.domain.workflow import utcnow
from workspace.store.engine import AnyRow, Database, IntegrityViolation
from workspace.store.memory_credentials import credential_exists, credential_not_found
from workspace.store.tables import credentials, workspace_meta

__all__ = ["SqlCredentialRepository"]

_FIELDS = tuple(Credential.model_fields)
_KEY_META = "secret_key_fingerprint"


def _credential(row: AnyRow) -> Credential:
    return Credential.model_validate(dict(zip(_FIELDS, row, strict=True)))


class SqlCredentialRepository:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._select = select(*(credentials.c[f] for f in _FIELDS))

    def create(self, credential: Credential) -> Credential:
        try:
            with self._db.write() as conn:
                conn.execute(insert(credentials), [credential.model_dump()])
        except IntegrityViolation:
            raise credential_exists(credential.name) from None
        return credential

    def get(self, name: str) -> Credential:
        found = self.find(name)
        if found is None:
            raise credential_not_found(name)
        return found

    def find(self, name: str) -> Credential | None:
        with self._db.read() as conn:
            row = conn.execute(self._select.where(credentials.c.name == name)).first()
        return None if row is None else _credential(row)

    def list(self, *, owner: str | None = None) -> builtins.list[Credential]:
        query = self._select.order_by(credentials.c.name)
        if owner is not None:
            query = query.where(credentials.c.owner == owner)
        with self._db.read() as conn:
            return [_credential(r) for r in conn.execute(query)]

    def update(self, credential: Credential) -> Credential:
        stored = credential.model_copy(update={"updated_at": utcnow()})
        values = stored.model_dump(exclude={"id", "created_at"})
        try:
            with self._db.write() as conn:
                done = conn.execute(
                    update(credentials).where(credentials.c.id == stored.id).values(**values)
                ).rowcount
        except IntegrityViolation:
            raise credential_exists(credential.name) from None
        if not done:
            raise credential_not_found(credential.name)
        return stored

    def delete(self, name: str) -> None:
        with self._db.write() as conn:
            done = conn.execute(delete(credentials).where(credentials.c.name == name)).rowcount
        if not done:
            raise credential_not_found(name)

    def key_fingerprint(self) -> str | None:
        with self._db.read() as conn:
            value = conn.execute(
                select(workspace_meta.c.value).where(workspace_meta.c.key == _KEY_META)
            ).scalar()
        return None if value is None else str(value)

    def claim_key_fingerprint(self, fingerprint: str) -> str:
        try:
            with self._db.write() as conn:
                current = conn.execute(
                    select(workspace_meta.c.value).where(workspace_meta.c.key == _KEY_META)
                ).scalar()
                if current is not None:
                    return str(current)
                conn.execute(insert(workspace_meta), [{"key": _KEY_META, "value": fingerprint}])
        except IntegrityViolation:  # another process recorded one first
            pass
        recorded = self.key_fingerprint()
        assert recorded is not None
        return recorded

    def reencrypt(self, rotate: Callable[[str], str], fingerprint: str) -> int:
        now = utcnow()
        with self._db.write() as conn:
            rows = conn.execute(select(credentials.c.id, credentials.c.ciphertext)).all()
            for cid, token in rows:
                conn.execute(
                    update(credentials)
                    .where(credentials.c.id == cid)
                    .values(ciphertext=rotate(token), key_fingerprint=fingerprint, updated_at=now)
                )
            done = conn.execute(
                update(workspace_meta)
                .where(workspace_meta.c.key == _KEY_META)
                .values(value=fingerprint)
            ).rowcount
            if not done:
                conn.execute(insert(workspace_meta), [{"key": _KEY_META, "value": fingerprint}])
        return len(rows)
