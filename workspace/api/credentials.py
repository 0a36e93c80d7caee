"""``/api/v1/credentials``: secrets are write-only (SPEC §6, §9).

A secret goes in with ``POST`` or ``PATCH`` and never comes out: every response shows the
credential's public view (a hint of the last characters). Members see and use their own
credentials; admins all of them; another member's credential answers 404.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from workspace.api.deps import WS, Caller
from workspace.domain.access import User
from workspace.domain.credentials import Credential, CredentialKind
from workspace.errors import NotFoundError
from workspace.runtime.workspace import Workspace

router = APIRouter(prefix="/credentials", tags=["credentials"])


class CredentialBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: CredentialKind
    secret: SecretStr = Field(description="Write-only: stored encrypted, never returned.")
    base_url: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class CredentialPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    secret: SecretStr | None = Field(default=None, description="Write-only.")
    base_url: str | None = Field(default=None, description='"" removes the base URL.')
    params: dict[str, Any] | None = None


def owned(ws: Workspace, user: User, name: str) -> Credential:
    cred = ws.credentials.get(name)
    if not user.may_access(cred.owner):
        raise NotFoundError(f"credential {name!r} not found", code="credential_not_found")
    return cred


@router.get("")
def list_credentials(ws: WS, user: Caller) -> dict[str, Any]:
    items = ws.credentials.list(owner=None if user.is_admin else user.id)
    return {"items": [c.public() for c in items]}


@router.post("", status_code=201)
def create_credential(body: CredentialBody, ws: WS, user: Caller) -> dict[str, Any]:
    cred = ws.credentials.create(
        body.name,
        body.kind,
        body.secret.get_secret_value(),
        base_url=body.base_url,
        params=body.params,
        owner=user.id,
    )
    return cred.public()


@router.get("/{name}")
def get_credential(name: str, ws: WS, user: Caller) -> dict[str, Any]:
    return owned(ws, user, name).public()


@router.patch("/{name}")
def update_credential(name: str, body: CredentialPatch, ws: WS, user: Caller) -> dict[str, Any]:
    owned(ws, user, name)
    cred = ws.credentials.update(
        name,
        secret=body.secret.get_secret_value() if body.secret is not None else None,
        new_name=body.name,
        base_url=body.base_url,
        params=body.params,
    )
    return cred.public()


@router.delete("/{name}", status_code=204)
def delete_credential(name: str, ws: WS, user: Caller) -> Response:
    owned(ws, user, name)
    ws.credentials.delete(name)
    return Response(status_code=204)


@router.post("/{name}/test")
def test_credential(name: str, ws: WS, user: Caller) -> dict[str, Any]:
    """Contact the provider with the credential (lists its models)."""
    owned(ws, user, name)
    return ws.credentials.test(name)


@router.get("/{name}/models")
def credential_models(name: str, ws: WS, user: Caller) -> dict[str, Any]:
    owned(ws, user, name)
    return {"items": ws.credentials.models(name)}
