"""``/api/v1/runs``: list, detail with steps, cancel, pause, resume (answer or unpause), rerun,
and the event stream (SSE, JSON pages, WebSocket), each resumable from a ``seq``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from workspace.api.deps import WS, Caller, Paging, authenticate, bearer, owned_run
from workspace.domain.events import Event
from workspace.domain.run import RunStatus
from workspace.errors import PlaitError, ValidationError

router = APIRouter(prefix="/runs", tags=["runs"])


class ResumeBody(BaseModel):
    token: str | None = Field(default=None, description="The open request's one-time token")
    answer: Any = Field(default=None, description="approve | reject | a JSON form answer")
    wait: bool = False


class RerunBody(BaseModel):
    from_node: str
    input: Any = None


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
    items = ws.store.runs.list(
        workflow_id=wf_id, status=status, limit=paging.limit, offset=paging.offset
    )
    if not user.is_admin:
        visible = []
        for run in items:
            try:
                visible.append(owned_run(ws, user, run.id))
            except PlaitError:
                continue
        items = visible
    return {"items": [r.model_dump(mode="json") for r in items], "limit": paging.limit}


@router.get("/{run_id}")
def get_run(run_id: str, ws: WS, user: Caller) -> dict[str, Any]:
    run = owned_run(ws, user, run_id)
    steps = ws.store.runs.list_steps(run.id)
    return {**run.model_dump(mode="json"), "steps": [s.model_dump(mode="json") for s in steps]}


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
    return ws.rerun(run_id, body.from_node, body.input).run.model_dump(mode="json")


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
    ``?after=SEQ`` or ``Last-Event-ID``; ends after the run's final event), else a JSON page."""
    owned_run(ws, user, run_id)
    start = _after(after, last_event_id)
    if "text/event-stream" not in request.headers.get("accept", ""):
        top = ws.settings.runtime.max_page_size
        batch = ws.store.events.list(run_id, after=start, limit=top)
        return {"items": [e.model_dump(mode="json") for e in batch]}
    follower = ws.events(run_id, after=start, until_final=follow)

    async def stream() -> AsyncIterator[str]:
        yield ": connected\n\n"
        async for ev in follower:
            if await request.is_disconnected():
                return
            yield _sse(ev)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def events_ws(websocket: WebSocket, run_id: str, after: int = 0) -> None:
    """The same events over a WebSocket. Authenticate with ``Authorization: Bearer`` or, where
    a browser cannot set headers, the first message ``{"token": "<api key>"}``."""
    ws = websocket.app.state.ws
    await websocket.accept()
    try:
        secret = bearer(websocket)
        if secret is None:
            first = json.loads(await websocket.receive_text())
            secret = first.get("token") if isinstance(first, dict) else None
        user = authenticate(ws, secret)
        owned_run(ws, user, run_id)
    except (PlaitError, ValueError) as exc:
        code = getattr(exc, "code", "unauthorized")
        await websocket.send_json({"error": code, "detail": str(exc)})
        await websocket.close(code=4401 if code == "unauthorized" else 4404)
        return
    try:
        async for ev in ws.events(run_id, after=after):
            await websocket.send_text(ev.model_dump_json())
        await websocket.close()
    except WebSocketDisconnect:
        return
