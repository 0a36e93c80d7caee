"""``/api/v1``: node types, the caller, users (admin) and API keys (shown once)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from workspace.api.deps import WS, Admin, Caller
from workspace.domain.access import ApiKey, Role, User, new_api_key
from workspace.errors import AccessDenied, NotFoundError

router = APIRouter(tags=["access"])


class UserBody(BaseModel):
    name: str
    role: Role = Role.MEMBER


class KeyBody(BaseModel):
    name: str = ""
    user_id: str | None = None


def _key(key: ApiKey) -> dict[str, Any]:
    return key.model_dump(mode="json", exclude={"hash"})


@router.get("/node-types")
def node_types(ws: WS, user: Caller) -> dict[str, Any]:
    specs = [spec.model_dump(mode="json") for spec in ws.registry.specs()]
    return {"items": specs}


@router.get("/me")
def me(user: Caller) -> dict[str, Any]:
    return user.model_dump(mode="json")


@router.get("/users")
def users(ws: WS, admin: Admin) -> dict[str, Any]:
    return {"items": [u.model_dump(mode="json") for u in ws.store.access.list_users()]}


@router.post("/users", status_code=201)
def create_user(body: UserBody, ws: WS, admin: Admin) -> dict[str, Any]:
    user = ws.store.access.create_user(User(name=body.name, role=body.role))
    return user.model_dump(mode="json")


@router.get("/keys")
def keys(ws: WS, user: Caller) -> dict[str, Any]:
    items = ws.store.access.list_keys(None if user.is_admin else user.id)
    return {"items": [_key(k) for k in items]}


@router.post("/keys", status_code=201)
def create_key(body: KeyBody, ws: WS, user: Caller) -> dict[str, Any]:
    """A new API key; the secret is in this response only (it is stored hashed)."""
    owner = body.user_id or user.id
    if owner != user.id and not user.is_admin:
        raise AccessDenied("only admins create keys for other users", code="forbidden")
    ws.store.access.get_user(owner)
    key, secret = new_api_key(owner, body.name)
    ws.store.access.add_key(key)
    return {**_key(key), "secret": secret}


@router.delete("/keys/{key_id}", status_code=204)
def revoke_key(key_id: str, ws: WS, user: Caller) -> Response:
    mine = {k.id for k in ws.store.access.list_keys(None if user.is_admin else user.id)}
    if key_id not in mine:
        raise NotFoundError(f"API key {key_id!r} not found", code="key_not_found")
    ws.store.access.revoke_key(key_id)
    return Response(status_code=204)
