"""``/api/v1/runs``: list, detail with steps, cancel, pause, resume (answer or unpause), rerun,
and the event stream (SSE, JSON pages, WebSocket), each resumable from a ``seq``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.types import Message

from workspace.api.deps import (
    WS,
    Caller,
    Page,
    Paging,
    authenticate,
    bearer,
    may_see_run,
    owned_run,
)
from workspace.domain.access import User
from workspace.domain.events import Event
from workspace.domain.run import Run, RunStatus
from workspace.domain.workflow import Workflow
from workspace.errors import AccessDenied, PlaitError, ValidationError
from workspace.runtime.handle import run_usage
from workspace.runtime.workspace import Workspace

router = APIRouter(prefix="/runs", tags=["runs"])


class ResumeBody(BaseModel):
    token: str | None = Field(default=None, description="The open request's one-time token")
    answer: Any = Field(default=None, description="approve | reject | a JSON form answer")
    wait: bool = False


class RerunBody(BaseModel):
    from_node: str
    input: Any = None
    wait: bool = Field(default=False, description="Answer when the re-run reached a stable point")
    timeout_s: float = Field(default=30.0, gt=0, le=300)


@router.get("")
def list_runs(
    ws: WS,
    user: Caller,
    paging: Paging,
    workflow: str | None = None,
    status: RunStatus | None = None,
) -> dict[str, Any]:
    wf_id = None
    if workflow is not None:
        wf = ws.store.workflows.find(workflow)
        if wf is None:
            return {"items": [], "limit": paging.limit}
        wf_id = wf.id
    if user.is_admin:
        items = ws.store.runs.list(
            workflow_id=wf_id, status=status, limit=paging.limit, offset=paging.offset
        )
    else:
        items = _visible_runs(ws, user, wf_id, status, paging)
    return {"items": [r.model_dump(mode="json") for r in items], "limit": paging.limit}


def _visible_runs(
    ws: Workspace, user: User, wf_id: str | None, status: RunStatus | None, paging: Page
) -> list[Run]:
    """A member's page: ``offset`` and ``limit`` count the runs the member may see (filtering
    a page of everybody's runs would return short or empty pages)."""
    batch = max(paging.limit + paging.offset, ws.settings.runtime.max_page_size)
    workflows: dict[str, Workflow | None] = {}
    out: list[Run] = []
    skipped = scanned = 0
    while len(out) < paging.limit:
        chunk = ws.store.runs.list(workflow_id=wf_id, status=status, limit=batch, offset=scanned)
        scanned += len(chunk)
        for run in chunk:
            if not may_see_run(ws, user, run, workflows):
                continue
            if skipped < paging.offset:
                skipped += 1
                continue
            out.append(run)
            if len(out) == paging.limit:
                break
        if len(chunk) < batch:
            break
    return out


@router.get("/{run_id}")
def get_run(run_id: str, ws: WS, user: Caller) -> dict[str, Any]:
    run = owned_run(ws, user, run_id)
    steps = ws.store.runs.list_steps(run.id)
    return {
        **run.model_dump(mode="json"),
        "steps": [s.model_dump(mode="json") for s in steps],
        "usage": run_usage(ws.store, run.id).to_dict(),
    }


@router.post("/{run_id}/cancel")
def cancel(run_id: str, ws: WS, user: Caller) -> dict[str, Any]:
    owned_run(ws, user, run_id)
    return ws.cancel(run_id).run.model_dump(mode="json")


@router.post("/{run_id}/pause")
def pause(run_id: str, ws: WS, user: Caller) -> dict[str, Any]:
    owned_run(ws, user, run_id)
    return ws.pause(run_id).run.model_dump(mode="json")


@router.post("/{run_id}/resume")
def resume(run_id: str, body: ResumeBody, ws: WS, user: Caller) -> dict[str, Any]:
    """With ``token``: answer the open human request holding it (idempotent). Without: continue
    a paused run."""
    run = owned_run(ws, user, run_id)
    if body.token is None:
        if run.status != RunStatus.PAUSED:
            raise ValidationError(
                "resume needs the open request's `token` (the run is not paused)",
                code="token_required",
            )
        return ws.unpause(run_id, wait=body.wait).run.model_dump(mode="json")
    return ws.resume(run_id, body.token, body.answer, wait=body.wait).run.model_dump(mode="json")


@router.post("/{run_id}/rerun", status_code=201)
def rerun(run_id: str, body: RerunBody, ws: WS, user: Caller) -> dict[str, Any]:
    owned_run(ws, user, run_id)
    handle = ws.rerun(run_id, body.from_node, body.input, wait=body.wait, timeout_s=body.timeout_s)
    return handle.run.model_dump(mode="json")


def _after(after: int | None, last_event_id: str | None) -> int:
    if after is not None:
        return after
    if last_event_id and last_event_id.isdigit():
        return int(last_event_id)
    return 0


def _sse(ev: Event) -> str:
    return f"id: {ev.seq}\nevent: {ev.type.value}\ndata: {ev.model_dump_json()}\n\n"


@router.get("/{run_id}/events", response_model=None)
def events(
    run_id: str,
    request: Request,
    ws: WS,
    user: Caller,
    after: Annotated[int | None, Query(ge=0)] = None,
    follow: bool = True,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse | dict[str, Any]:
    """Server-Sent Events when the client accepts ``text/event-stream`` (resumable with
    ``?after=SEQ`` or ``Last-Event-ID``; ends after the run's final event, or with
    ``follow=false`` after the events stored so far), else a JSON page."""
    owned_run(ws, user, run_id)
    start = _after(after, last_event_id)
    top = ws.settings.runtime.max_page_size
    if "text/event-stream" not in request.headers.get("accept", ""):
        batch = ws.store.events.list(run_id, after=start, limit=top)
        return {"items": [e.model_dump(mode="json") for e in batch]}
    source: AsyncIterable[Event] = (
        ws.events(run_id, after=start) if follow else _stored(ws, run_id, start, top)
    )

    async def stream() -> AsyncIterator[str]:
        yield ": connected\n\n"
        async for ev in source:
            if await request.is_disconnected():
                return
            yield _sse(ev)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stored(ws: Workspace, run_id: str, after: int, batch: int) -> AsyncIterator[Event]:
    """The events stored so far with ``seq > after``, page by page (no waiting for more)."""
    while True:
        page = await asyncio.to_thread(ws.store.events.list, run_id, after=after, limit=batch)
        for ev in page:
            yield ev
        if len(page) < batch:
            return
        after = page[-1].seq


async def events_ws(websocket: WebSocket, run_id: str, after: int = 0) -> None:
    """The same events over a WebSocket. Authenticate with ``Authorization: Bearer`` or, where
    a browser cannot set headers, the first message ``{"token": "<api key>"}``. A refused
    subscription gets ``{"error", "detail"}`` then close code 4401 (no valid key) or 4404."""
    ws = websocket.app.state.ws
    await websocket.accept()
    try:
        secret = bearer(websocket)
        if secret is None:
            first = await websocket.receive()
            if first["type"] == "websocket.disconnect":
                return
            secret = _token_of(first)
        user = await asyncio.to_thread(authenticate, ws, secret)
        await asyncio.to_thread(owned_run, ws, user, run_id)
    except PlaitError as exc:
        await websocket.send_json({"error": exc.code, "detail": exc.message})
        await websocket.close(code=4401 if isinstance(exc, AccessDenied) else 4404)
        return
    except WebSocketDisconnect:
        return
    try:
        async for ev in ws.events(run_id, after=after):
            await websocket.send_text(ev.model_dump_json())
        await websocket.close()
    except WebSocketDisconnect:
        return


def _token_of(message: Message) -> str | None:
    """The API key of a first message ``{"token": "..."}`` (text or UTF-8 bytes), else None."""
    raw = message.get("text")
    if raw is None:
        raw = (message.get("bytes") or b"").decode("utf-8", errors="replace")
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    token = data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, str) else None
