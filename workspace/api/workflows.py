"""``/api/v1/workflows``: save (draft), validate, publish, versions, export, start runs."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from workspace.api.deps import WS, Caller, Paging, owned_workflow

router = APIRouter(prefix="/workflows", tags=["workflows"])


class DslBody(BaseModel):
    dsl: str = Field(description="The workflow as YAML DSL (SPEC §5)")
    draft: bool = Field(default=False, description="Allow an incomplete draft")
    publish: bool = Field(default=False, description="Publish a version after saving")
    message: str = ""


class StepBody(BaseModel):
    body: str = Field(description="The step's code/template/prompt (or a YAML config mapping)")
    type: str | None = Field(default=None, description="Step type (a new step: default code)")
    after: str | None = Field(default=None, description="A new step goes after this step")


class RunBody(BaseModel):
    input: Any = None
    trigger: str | None = None
    version: int | None = None
    wait: bool = Field(default=False, description="Answer when the run reached a stable point")
    timeout_s: float = Field(default=30.0, gt=0, le=300)


@router.get("")
def list_workflows(ws: WS, user: Caller, paging: Paging) -> dict[str, Any]:
    owner = None if user.is_admin else user.id
    items = ws.store.workflows.list(owner=owner, limit=paging.limit, offset=paging.offset)
    return {"items": [w.model_dump(mode="json") for w in items], "limit": paging.limit}


@router.post("/validate")
def validate(body: DslBody, ws: WS, user: Caller) -> Any:
    report = ws.validate(body.dsl, draft=body.draft)
    out: dict[str, Any] = report.to_json()
    return out


@router.post("", status_code=201)
def save(body: DslBody, ws: WS, user: Caller) -> dict[str, Any]:
    existing = slug_of(ws, body.dsl)
    if existing is not None:
        owned_workflow(ws, user, existing)  # only the owner (or an admin) replaces it
    wf = ws.save(body.dsl, draft=body.draft, owner=user.id)
    out: dict[str, Any] = {"workflow": wf.model_dump(mode="json")}
    if body.publish:
        ver = ws.workflows.publish(
            wf.slug, message=body.message, author=user.id, only_if_changed=True
        )
        out["version"] = version_json(ver)
    return out


@router.get("/{slug}")
def get(slug: str, ws: WS, user: Caller) -> dict[str, Any]:
    wf = owned_workflow(ws, user, slug)
    versions = ws.store.workflows.list_versions(wf.id)
    draft = ws.store.workflows.get_draft(wf.id)
    return {
        "workflow": wf.model_dump(mode="json"),
        "latest_version": versions[-1].number if versions else None,
        "has_draft": draft is not None,
    }


@router.delete("/{slug}", status_code=204)
def delete(slug: str, ws: WS, user: Caller) -> Response:
    owned_workflow(ws, user, slug)
    ws.store.workflows.delete(slug)
    return Response(status_code=204)


@router.post("/{slug}/publish", status_code=201)
def publish(slug: str, ws: WS, user: Caller, message: str = "") -> dict[str, Any]:
    owned_workflow(ws, user, slug)
    return version_json(ws.publish(slug, message=message, author=user.id))


@router.get("/{slug}/versions")
def versions(slug: str, ws: WS, user: Caller) -> dict[str, Any]:
    wf = owned_workflow(ws, user, slug)
    return {"items": [version_json(v) for v in ws.store.workflows.list_versions(wf.id)]}


@router.get("/{slug}/export")
def export(
    slug: str,
    ws: WS,
    user: Caller,
    format: Literal["yaml", "json"] = "yaml",
    version: int | None = None,
) -> Response:
    owned_workflow(ws, user, slug)
    text = ws.export(slug, format=format, version=version)
    media = "application/yaml" if format == "yaml" else "application/json"
    return Response(text, media_type=media)


@router.get("/{slug}/graph")
def graph(slug: str, ws: WS, user: Caller, draft: bool = True) -> dict[str, Any]:
    """The draft's graph (``draft=false``, or no draft: the latest version's)."""
    owned_workflow(ws, user, slug)
    out: dict[str, Any] = ws.graph(slug, draft=draft).model_dump(mode="json")
    return out


@router.put("/{slug}/steps/{step_id}")
def save_step(slug: str, step_id: str, body: StepBody, ws: WS, user: Caller) -> dict[str, Any]:
    """A notebook ``%%step`` cell: patch the draft so the step holds ``body`` (idempotent)."""
    owned_workflow(ws, user, slug)
    wf = ws.save_step(slug, step_id, body.body, type=body.type, after=body.after)
    return {"workflow": wf.model_dump(mode="json")}


@router.post("/{slug}/runs", status_code=202)
def start_run(slug: str, body: RunBody, ws: WS, user: Caller) -> dict[str, Any]:
    owned_workflow(ws, user, slug)
    run = ws.create_run(slug, body.input, trigger=body.trigger, version=body.version, user=user.id)
    ws.submit(run)
    if body.wait:
        run = ws.wait(run.id, timeout_s=body.timeout_s).run
    return {"run_id": run.id, "status": run.status.value, "run": run.model_dump(mode="json")}


def version_json(ver: Any) -> dict[str, Any]:
    return {
        "number": ver.number,
        "content_hash": ver.content_hash,
        "author": ver.author,
        "message": ver.message,
        "created_at": ver.created_at.isoformat(),
    }


def slug_of(ws: Any, text: str) -> str | None:
    """The slug a DSL document would be saved under, if it already exists."""
    report = ws.validate(text, draft=True)
    slug = report.meta.slug if report.meta is not None else None
    return slug if slug and ws.store.workflows.find(slug) is not None else None
