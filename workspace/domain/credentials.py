"""Credentials (SPEC §7, §9): a named secret (an API key, a token, an HMAC secret) with what a
provider needs beside it (base URL, non-secret parameters).

The stored record holds only the secret's ciphertext and a short hint (its last characters);
the plaintext exists in memory while a node uses it, never in a record, an event, a log, an
export or an API response.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workspace.domain.workflow import new_id, utcnow

__all__ = ["NAME_RE", "Credential", "CredentialKind", "secret_hint"]

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


class CredentialKind(StrEnum):
    OPENAI = "openai"  # any OpenAI-compatible server: OpenAI, Ollama, vLLM, LM Studio ...
    ANTHROPIC = "anthropic"
    TOKEN = "token"  # a bearer / header token or an HMAC secret (webhooks, http_request)
    BASIC = "basic"  # `username` in params, the password as the secret


def secret_hint(secret: str) -> str:
    """What a user may see of a secret: its last 4 characters, when it is long enough."""
    return f"…{secret[-4:]}" if len(secret) >= 12 else "…"


class Credential(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_id)
    name: str
    kind: CredentialKind
    base_url: str | None = None
    #: non-secret settings: organization, default model, username, header name ...
    params: dict[str, Any] = Field(default_factory=dict)
    owner: str | None = None
    #: a scripted demo credential (the mock LLM): labelled so everywhere it appears
    demo: bool = False
    ciphertext: str
    hint: str = "…"
    #: fingerprint of the key that encrypted it
    key_fingerprint: str
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError(
                "a credential name is 1-80 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit"
            )
        return v

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("base_url must be an http(s) URL")
        return v.rstrip("/") if v else v

    def public(self) -> dict[str, Any]:
        """What the API and the CLI show: everything but the ciphertext."""
        data = self.model_dump(mode="json", exclude={"ciphertext"})
        data["secret"] = self.hint
        if self.demo:
            data["label"] = "demo (scripted)"
        return data
