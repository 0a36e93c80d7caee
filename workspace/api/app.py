"""``create_app``: the FastAPI application of a workspace (REST, webhooks, events, health).

The app does not own the workspace: whoever created it (``plait up``, ``plait api``, a test)
closes it. Every ``/api/v1`` route needs a Bearer API key; health routes and webhooks do not
(webhooks authenticate per trigger).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from workspace.api import (
    access,
    credentials,
    drafts,
    health,
    hooks,
    problems,
    runs,
    schedules,
    workflows,
)
from workspace.api.deps import current_user
from workspace.runtime.workspace import Workspace

API_PREFIX = "/api/v1"


def create_app(ws: Workspace) -> FastAPI:
    app = FastAPI(
        title="Plait",
        version="0.1.0",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.ws = ws
    problems.install(app, auth_prefix=API_PREFIX)
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(current_user)])
    api.include_router(drafts.router)  # before workflows: /workflows/import is not a slug
    api.include_router(workflows.router)
    api.include_router(runs.router)
    api.include_router(schedules.router)
    api.include_router(access.router)
    api.include_router(credentials.router)
    app.include_router(api)
    # the WebSocket authenticates itself (browsers cannot send headers on a WebSocket)
    app.add_api_websocket_route(f"{API_PREFIX}/runs/{{run_id}}/events/ws", runs.events_ws)
    app.include_router(health.router)
    app.include_router(hooks.router)
    return app
