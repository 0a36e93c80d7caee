"""``CredentialRepository`` in memory."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable

from workspace.domain.credentials import Credential
from workspace.domain.workflow import utcnow
from workspace.errors import ConflictError, NotFoundError

__all__ = ["MemoryCredentialRepository", "credential_exists", "credential_not_found"]


def credential_exists(name: str) -> ConflictError:
    return ConflictError(f"a credential named {name!r} exists", code="credential_exists")


def credential_not_found(name: str) -> NotFoundError:
    return NotFoundError(f"credential {name!r} not found", code="credential_not_found")


class MemoryCredentialRepository:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Credential] = {}
        self._fingerprint: str | None = None

    def _named(self, name: str) -> Credential | None:
        return next((c for c in self._by_id.values() if c.name == name), None)

    def create(self, credential: Credential) -> Credential:
        with self._lock:
            if self._named(credential.name) is not None:
                raise credential_exists(credential.name)
            self._by_id[credential.id] = credential.model_copy(deep=True)
        return credential.model_copy(deep=True)

    def get(self, name: str) -> Credential:
        found = self.find(name)
        if found is None:
            raise credential_not_found(name)
        return found

    def find(self, name: str) -> Credential | None:
        with self._lock:
            found = self._named(name)
            return None if found is None else found.model_copy(deep=True)

    def list(self, *, owner: str | None = None) -> builtins.list[Credential]:
        with self._lock:
            items = [c for c in self._by_id.values() if owner is None or c.owner == owner]
            return [c.model_copy(deep=True) for c in sorted(items, key=lambda c: c.name)]

    def update(self, credential: Credential) -> Credential:
        stored = credential.model_copy(deep=True, update={"updated_at": utcnow()})
        with self._lock:
            if credential.id not in self._by_id:
                raise credential_not_found(credential.name)
            other = self._named(credential.name)
            if other is not None and other.id != credential.id:
                raise credential_exists(credential.name)
            self._by_id[credential.id] = stored
        return stored.model_copy(deep=True)

    def delete(self, name: str) -> None:
        with self._lock:
            found = self._named(name)
            if found is None:
                raise credential_not_found(name)
            del self._by_id[found.id]

    def key_fingerprint(self) -> str | None:
        with self._lock:
            return self._fingerprint

    def claim_key_fingerprint(self, fingerprint: str) -> str:
        with self._lock:
            if self._fingerprint is None:
                self._fingerprint = fingerprint
            return self._fingerprint

    def reencrypt(self, rotate: Callable[[str], str], fingerprint: str) -> int:
        with self._lock:
            now = utcnow()
            rotated = {  # all first: a failure leaves everything as it was
                cid: c.model_copy(
                    update={
                        "ciphertext": rotate(c.ciphertext),
                        "key_fingerprint": fingerprint,
                        "updated_at": now,
                    }
                )
                for cid, c in self._by_id.items()
            }
            self._by_id.update(rotated)
            self._fingerprint = fingerprint
            return len(rotated)
