"""Request dependencies: the workspace, the caller (Bearer API key), paging and ownership."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.requests import HTTPConnection

from workspace.domain.access import User
from workspace.domain.run import Run
from workspace.domain.workflow import Workflow
from workspace.errors import AccessDenied, NotFoundError, ValidationError
from workspace.runtime.workspace import Workspace


def get_ws(request: Request) -> Workspace:
    ws: Workspace = request.app.state.ws
    return ws


WS = Annotated[Workspace, Depends(get_ws)]


def bearer(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def authenticate(ws: Workspace, secret: str | None) -> User:
    if not secret:
        raise AccessDenied("an API key is required (Authorization: Bearer <key>)")
    found = ws.store.access.authenticate(secret)
    if found is None:
        raise AccessDenied("invalid or revoked API key")
    return found[0]


def current_user(request: Request, ws: WS) -> User:
    return authenticate(ws, bearer(request))


Caller = Annotated[User, Depends(current_user)]


def admin_user(user: Caller) -> User:
    if not user.is_admin:
        raise AccessDenied("this needs an admin API key", code="forbidden")
    return user


Admin = Annotated[User, Depends(admin_user)]


class Page:
    def __init__(self, limit: int, offset: int) -> None:
        self.limit = limit
        self.offset = offset


#: page size when the caller gives none (capped by ``max_page_size``)
DEFAULT_PAGE_SIZE = 50


def page(
    ws: WS,
    limit: Annotated[int | None, Query(ge=1, description="Page size (default 50)")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page:
    top = ws.settings.runtime.max_page_size
    if limit is None:
        limit = min(DEFAULT_PAGE_SIZE, top)
    elif limit > top:
        raise ValidationError(
            f"limit {limit} exceeds the maximum page size {top}", code="page_too_large"
        )
    return Page(limit, offset)


Paging = Annotated[Page, Depends(page)]


def owned_workflow(ws: Workspace, user: User, slug: str) -> Workflow:
    """The workflow if the caller may see it; others' workflows look absent (no leak)."""
    wf = ws.store.workflows.find(slug)
    if wf is None or not user.may_access(wf.owner):
        raise NotFoundError(f"workflow {slug!r} not found", code="workflow_not_found")
    return wf


def owned_run(ws: Workspace, user: User, run_id: str) -> Run:
    try:
        run = ws.store.runs.get(run_id)
    except NotFoundError:
        raise NotFoundError(f"run {run_id!r} not found", code="run_not_found") from None
    if may_see_run(ws, user, run):
        return run
    raise NotFoundError(f"run {run_id!r} not found", code="run_not_found")


def may_see_run(
    ws: Workspace,
    user: User,
    run: Run,
    workflows: dict[str, Workflow | None] | None = None,
) -> bool:
    """A run is the caller's if they started it or own its workflow (webhook and scheduled
    runs have no user). ``workflows`` caches lookups by slug across calls."""
    if user.may_access(run.user):
        return True
    cache = {} if workflows is None else workflows
    if run.workflow_slug not in cache:
        cache[run.workflow_slug] = ws.store.workflows.find(run.workflow_slug)
    wf = cache[run.workflow_slug]
    return wf is not None and wf.id == run.workflow_id and user.may_access(wf.owner)
