"""``/hooks/{workflow}/{trigger_id}``: webhooks, authenticated by the trigger (not API keys)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from workspace.api.deps import WS
from workspace.errors import ValidationError
from workspace.runtime.webhooks import WebhookReceiver, WebhookRequest

router = APIRouter(tags=["webhooks"])

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


async def hook(workflow: str, trigger_id: str, request: Request, ws: WS) -> JSONResponse:
    limit = ws.settings.runtime.webhook_max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ValidationError(
            f"body of {declared} bytes exceeds the limit of {limit}", code="payload_too_large"
        )
    body = await _read_body(request, limit)
    req = WebhookRequest(
        method=request.method,
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        body=body,
    )
    result = await asyncio.to_thread(WebhookReceiver(ws).receive, workflow, trigger_id, req)
    run = result.run
    out: dict[str, Any] = {"run_id": run.id, "status": run.status.value}
    if result.duplicate:
        out["duplicate"] = True
    if result.completed:
        out["output"] = run.output
        if run.error:
            out["error"] = run.error
        return JSONResponse(out, status_code=200)
    return JSONResponse(out, status_code=202)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it grows past ``limit`` (a chunked body declares no
    length: never buffer an unbounded one)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ValidationError(
                f"body exceeds the limit of {limit} bytes", code="payload_too_large"
            )
        chunks.append(chunk)
    return b"".join(chunks)


# one route per method: a single multi-method route would give every method the same OpenAPI
# operation id (FastAPI warns "Duplicate Operation ID" and clients generated from it clash)
for _method in _METHODS:
    router.add_api_route(
        "/hooks/{workflow}/{trigger_id}",
        hook,
        methods=[_method],
        status_code=202,
        operation_id=f"webhook_{_method.lower()}",
        summary=f"Deliver a webhook ({_method})",
    )
