"""Users and API keys (SPEC §6, §9): who may call the API, and what they own.

An API key is shown once, at creation; the store keeps its SHA-256 hash and a short public
prefix to find it by. Keys look like ``plait_<prefix>_<secret>``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from workspace.domain.workflow import new_id, utcnow

KEY_SCHEME = "plait"
_PREFIX_BYTES = 6
_SECRET_BYTES = 24


class Role(StrEnum):
    ADMIN = "admin"  # sees and manages everything
    MEMBER = "member"  # sees and manages what it owns


class User(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_id)
    name: str
    role: Role = Role.MEMBER
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def may_access(self, owner: str | None) -> bool:
        """Ownership rule of every resource: admins see all; members see what they own."""
        return self.is_admin or (owner is not None and owner == self.id)


class ApiKey(BaseModel):
    """A stored API key: never the secret itself."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_id)
    user_id: str
    name: str = ""
    prefix: str
    hash: str
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


def new_api_key(user_id: str, name: str = "") -> tuple[ApiKey, str]:
    """A fresh key for ``user_id``: the record to store and the secret to show once."""
    prefix = secrets.token_hex(_PREFIX_BYTES)
    secret = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    return ApiKey(user_id=user_id, name=name, prefix=prefix, hash=hash_secret(secret)), secret


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_prefix(secret: str) -> str | None:
    """The public prefix of a well-formed key, else None."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME or len(parts[1]) != 2 * _PREFIX_BYTES:
        return None
    return parts[1]


def secret_matches(key: ApiKey, secret: str) -> bool:
    return hmac.compare_digest(key.hash, hash_secret(secret))
