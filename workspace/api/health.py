"""``/healthz`` (the process answers) and ``/readyz`` (database, Redis, workers seen)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from workspace.api.deps import WS

router = APIRouter(tags=["health"])

#: a worker counts as seen if it beat within this many heartbeats
_SEEN_BEATS = 5


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(ws: WS) -> JSONResponse:
    checks: dict[str, Any] = await asyncio.to_thread(_checks, ws)
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


def _checks(ws: Any) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    try:
        ws.store.workflows.list(limit=1)
        checks["database"] = {"ok": True}
    except Exception as exc:
        checks["database"] = {"ok": False, "error": str(exc)}
    queue = ws.queue
    if queue is None:
        checks["redis"] = {"ok": True, "mode": "inline (no task queue)"}
    else:
        ping = getattr(queue, "ping", None)
        ok = bool(ping()) if ping is not None else True
        checks["redis"] = {"ok": ok} if ok else {"ok": False, "error": "no answer to PING"}
        try:
            within = ws.settings.runtime.heartbeat_s * _SEEN_BEATS
            workers = ws.store.workers.alive(within_s=within)
            checks["workers"] = {"ok": bool(workers), "count": len(workers)}
        except Exception as exc:
            checks["workers"] = {"ok": False, "error": str(exc)}
    return checks
