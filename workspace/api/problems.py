"""Errors as ``application/problem+json`` (RFC 9457) with Plait's stable ``code``."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from workspace.api.deps import authenticate, bearer
from workspace.errors import (
    AccessDenied,
    ConfigurationError,
    ConflictError,
    DSLError,
    NotFoundError,
    PlaitError,
    StoreError,
    UpstreamError,
    ValidationError,
)

PROBLEM = "application/problem+json"

_STATUS: list[tuple[type[PlaitError], int]] = [
    (DSLError, 422),
    (ValidationError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (StoreError, 503),
    (UpstreamError, 502),
    (ConfigurationError, 500),
]
_CODE_STATUS = {
    "forbidden": 403,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "bad_json": 400,
    "page_too_large": 422,
}


def status_of(exc: PlaitError) -> int:
    if exc.code in _CODE_STATUS:
        return _CODE_STATUS[exc.code]
    if isinstance(exc, AccessDenied):
        return 401
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"urn:plait:error:{code}", "title": code.replace("_", " "), "status": status}
    body.update(code=code, detail=detail, **extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI, *, auth_prefix: str | None = None) -> None:
    """Map errors to problems. Under ``auth_prefix`` (where every HTTP route needs an API key)
    a request FastAPI rejects before the auth dependency ran (malformed JSON is parsed first)
    is answered 401 when it has no valid key: unauthenticated callers learn nothing more."""

    @app.exception_handler(PlaitError)
    async def _plait(_: Request, exc: PlaitError) -> JSONResponse:
        extra: dict[str, Any] = {}
        if isinstance(exc, DSLError):
            extra["errors"] = [p.to_dict() for p in exc.problems]
        return problem(status_of(exc), exc.code, exc.message, **extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        if auth_prefix is not None and request.url.path.startswith(auth_prefix + "/"):
            try:
                await asyncio.to_thread(authenticate, request.app.state.ws, bearer(request))
            except AccessDenied as denied:
                return problem(401, denied.code, denied.message)
        errors = [
            {"loc": list(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()
        ]
        return problem(422, "invalid_request", "the request is not valid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, str(exc.detail))
