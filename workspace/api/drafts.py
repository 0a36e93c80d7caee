"""``/api/v1/workflows/{slug}/...``: the draft, its nodes and edges, diff and rollback (SPEC §2,
§6). Owner-only like every workflow resource; node and edge edits are validated as a draft
(problem+json ``dsl_invalid`` with every problem) and change nothing when refused."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from workspace.api.deps import WS, Caller, owned_workflow
from workspace.api.workflows import slug_of, version_json

router = APIRouter(prefix="/workflows", tags=["workflows"])


class DraftBody(BaseModel):
    dsl: str = Field(description="The new draft as DSL (content may be missing)")


class ImportBody(BaseModel):
    dsl: str = Field(description="A workflow document: saved and published")
    message: str = ""


class RollbackBody(BaseModel):
    version: int = Field(ge=1, description="The version whose content becomes the new version")


@router.post("/import", status_code=201)
def import_workflow(body: ImportBody, ws: WS, user: Caller) -> dict[str, Any]:
    """Save and publish a document (no new version when nothing changed)."""
    existing = slug_of(ws, body.dsl)
    if existing is not None:
        owned_workflow(ws, user, existing)
    wf = ws.save(body.dsl, owner=user.id)
    ver = ws.workflows.publish(wf.slug, message=body.message, author=user.id, only_if_changed=True)
    return {"workflow": wf.model_dump(mode="json"), "version": version_json(ver)}


@router.get("/{slug}/draft")
def get_draft(slug: str, ws: WS, user: Caller) -> dict[str, Any]:
    owned_workflow(ws, user, slug)
    draft = ws.workflows.draft(slug)
    return {
        "dsl": ws.export(slug, version=None) if draft.dsl is None else draft.dsl,
        "graph": draft.graph.model_dump(mode="json"),
        "updated_at": draft.updated_at.isoformat(),
    }


@router.put("/{slug}/draft")
def put_draft(slug: str, body: DraftBody, ws: WS, user: Caller) -> dict[str, Any]:
    owned_workflow(ws, user, slug)
    wf = ws.save(body.dsl, draft=True, owner=user.id)
    return {"workflow": wf.model_dump(mode="json")}


@router.get("/{slug}/diff")
def diff(
    slug: str,
    ws: WS,
    user: Caller,
    a: str = Query(alias="from", description="A version number or `draft`"),
    b: str = Query(default="draft", alias="to", description="A version number or `draft`"),
) -> dict[str, Any]:
    owned_workflow(ws, user, slug)
    return ws.diff(slug, a, b)


@router.post("/{slug}/rollback", status_code=201)
def rollback(slug: str, body: RollbackBody, ws: WS, user: Caller) -> dict[str, Any]:
    owned_workflow(ws, user, slug)
    return version_json(ws.rollback(slug, body.version, author=user.id))


@router.get("/{slug}/nodes")
def nodes(slug: str, ws: WS, user: Caller) -> dict[str, Any]:
    owned_workflow(ws, user, slug)
    return {"items": [n.model_dump(mode="json") for n in ws.drafts.nodes(slug)]}


@router.post("/{slug}/nodes", status_code=201)
def add_node(slug: str, body: dict[str, Any], ws: WS, user: Caller) -> dict[str, Any]:
    owned_workflow(ws, user, slug)
    out: dict[str, Any] = ws.drafts.add_node(slug, body).model_dump(mode="json")
    return out


@router.patch("/{slug}/nodes/{node_id}")
def update_node(
    slug: str, node_id: str, body: dict[str, Any], ws: WS, user: Caller
) -> dict[str, Any]:
    owned_workflow(ws, user, slug)
    out: dict[str, Any] = ws.drafts.update_node(slug, node_id, body).model_dump(mode="json")
    return out


@router.delete("/{slug}/nodes/{node_id}", status_code=204)
def remove_node(slug: str, node_id: str, ws: WS, user: Caller) -> Response:
    owned_workflow(ws, user, slug)
    ws.drafts.remove_node(slug, node_id)
    return Response(status_code=204)


@router.get("/{slug}/edges")
def edges(slug: str, ws: WS, user: Caller) -> dict[str, Any]:
    owned_workflow(ws, user, slug)
    return {"items": [e.model_dump(mode="json") for e in ws.drafts.edges(slug)]}


@router.post("/{slug}/edges", status_code=201)
def add_edge(slug: str, body: dict[str, Any], ws: WS, user: Caller) -> dict[str, Any]:
    owned_workflow(ws, user, slug)
    out: dict[str, Any] = ws.drafts.add_edge(slug, body).model_dump(mode="json")
    return out


@router.post("/{slug}/edges/delete", status_code=204)
def remove_edge(slug: str, body: dict[str, Any], ws: WS, user: Caller) -> Response:
    """Remove the edge the body describes (edges have no id: source, target, kind, route and
    ports name one)."""
    owned_workflow(ws, user, slug)
    ws.drafts.remove_edge(slug, body)
    return Response(status_code=204)
