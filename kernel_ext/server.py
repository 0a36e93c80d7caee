"""jupyter-server extension: the workspace inside Jupyter.

Enabled by the package's ``etc/jupyter/jupyter_server_config.d/kernel_ext.json``. Adds
token-protected REST handlers under ``/plait/`` (Jupyter's own authentication: the server
token or a logged-in session):

* ``GET  /plait/workflows``                  workflows (slug, name, description)
* ``GET  /plait/workflows/{slug}``           its DSL, latest version and graph (nodes, edges)
* ``POST /plait/workflows/{slug}/runs``      start a run (``{"input": ...}``) → 202 with its id
* ``GET  /plait/runs[?workflow=SLUG]``       recent runs
* ``GET  /plait/runs/{id}``                  a run with its steps
* ``POST /plait/runs/{id}/resume``           answer a waiting human step (``{"token", "answer"}``)

Configuration (``jupyter lab --PlaitExtension.workspace_dir=DIR`` or a config file):
``workspace_dir`` (default: the ``PLAIT_*`` settings, else the server's folder) and
``start_workers``: start ``plait up`` for that folder with the server (API, workers and the
embedded Redis), so ``jupyter lab`` alone is a working Plait; ``api_port`` is its port.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Int, Unicode

from workspace import Workspace
from workspace.errors import (
    AccessDenied,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    PlaitError,
    ValidationError,
)

STATUS = [
    (ConfigurationError, 503),
    (NotFoundError, 404),
    (ConflictError, 409),
    (ValidationError, 422),
    (AccessDenied, 403),
]


class PlaitHandler(APIHandler):
    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``workspace.<method>(...)`` off the event loop; Plait errors become JSON problems."""
        ext: PlaitExtension = self.settings["plait_extension"]
        try:
            return await asyncio.to_thread(
                lambda: getattr(ext.workspace(), method)(*args, **kwargs)
            )
        except PlaitError as exc:
            status = next((s for kind, s in STATUS if isinstance(exc, kind)), 500)
            raise tornado.web.HTTPError(status, reason=exc.code, log_message=exc.message) from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"code": self._reason, "message": message, "status": status_code}))

    def body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            raise tornado.web.HTTPError(400, reason="bad_json", log_message="not JSON") from None
        if not isinstance(data, dict):
            raise tornado.web.HTTPError(400, reason="bad_json", log_message="not an object")
        return data


def _run_json(handle: Any, *, steps: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = handle.run.model_dump(mode="json")
    if steps:
        out["steps"] = [s.model_dump(mode="json") for s in handle.steps]
    return out


class WorkflowsHandler(PlaitHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        items = await self.call("list_workflows")
        self.finish(
            {
                "items": [
                    {"slug": w.slug, "name": w.name, "description": w.description} for w in items
                ]
            }
        )


class WorkflowHandler(PlaitHandler):
    @tornado.web.authenticated
    async def get(self, slug: str) -> None:
        wf = await self.call("workflow", slug)
        graph = await self.call("graph", slug)
        versions = await self.call("versions", slug)
        dsl = await self.call("export", slug)
        self.finish(
            {
                "workflow": wf.model_dump(mode="json"),
                "latest_version": versions[-1].number if versions else None,
                "dsl": dsl,
                "nodes": [{"id": n.id, "type": n.type} for n in graph.nodes],
                "edges": [
                    {"source": e.source, "target": e.target, "kind": e.kind.value, "route": e.route}
                    for e in graph.edges
                ],
            }
        )


class StartRunHandler(PlaitHandler):
    @tornado.web.authenticated
    async def post(self, slug: str) -> None:
        body = self.body()
        handle = await self.call("run", slug, body.get("input"), wait=False)
        self.set_status(202)
        self.finish({"run_id": handle.id, "status": handle.status.value})


class RunsHandler(PlaitHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        workflow = self.get_argument("workflow", None)
        runs = await self.call("runs", workflow, limit=50)
        self.finish({"items": [r.model_dump(mode="json") for r in runs]})


class RunHandler(PlaitHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        handle = await self.call("get_run", run_id)
        self.finish(await asyncio.to_thread(_run_json, handle, steps=True))


class ResumeHandler(PlaitHandler):
    @tornado.web.authenticated
    async def post(self, run_id: str) -> None:
        body = self.body()
        token = body.get("token")
        if not isinstance(token, str):
            raise tornado.web.HTTPError(422, reason="token_required", log_message="need `token`")
        handle = await self.call("resume", run_id, token, body.get("answer"), wait=False)
        self.finish(_run_json(handle))


class PlaitExtension(ExtensionApp):
    name = "kernel_ext"
    extension_url = "/plait/workflows"
    load_other_extensions = True

    workspace_dir = Unicode(
        "", config=True, help="Workspace folder or database URL (default: PLAIT_* settings)."
    )
    start_workers = Bool(
        False, config=True, help="Start `plait up` (API, workers, embedded Redis) with the server."
    )
    api_port = Int(8321, config=True, help="Port of the API started by start_workers.")

    def initialize_settings(self) -> None:
        self._ws: Any = None
        self._lock = threading.Lock()
        self.workers: subprocess.Popen[bytes] | None = None
        if self.start_workers:
            # without a folder `plait up` reads the PLAIT_* settings, as Workspace.open(None)
            target = self.workspace_dir
            where = [("--url" if "://" in target else "--dir"), target] if target else []
            self.workers = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "workspace.cli.main",
                    *where,
                    "up",
                    "--port",
                    str(self.api_port),
                ],
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            self.log.info("Plait: started `plait up` (pid %s)", self.workers.pid)
        self.settings["plait_extension"] = self

    def workspace(self) -> Any:
        """The workspace, opened on first use (after `plait up`, when started, is ready, so
        runs go to its workers)."""
        with self._lock:
            if self._ws is None:
                if self.workers is not None:
                    self._wait_ready()
                self._ws = Workspace.open(self.workspace_dir or None)
                self.log.info("Plait: workspace %s under /plait/", self._ws.settings.workspace_dir)
            return self._ws

    def _wait_ready(self, timeout_s: float = 60.0) -> None:
        url = f"http://127.0.0.1:{self.api_port}/readyz"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.workers is not None and self.workers.poll() is not None:
                raise ConfigurationError(
                    f"`plait up` exited with {self.workers.returncode}", code="workers_failed"
                )
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise ConfigurationError(f"`plait up` not ready after {timeout_s} s", code="workers_failed")

    def initialize_handlers(self) -> None:
        slug = r"(?P<slug>[a-z0-9][a-z0-9-]*)"
        run = r"(?P<run_id>[A-Za-z0-9_-]+)"
        self.handlers.extend(
            [
                (r"/plait/workflows", WorkflowsHandler),
                (rf"/plait/workflows/{slug}", WorkflowHandler),
                (rf"/plait/workflows/{slug}/runs", StartRunHandler),
                (r"/plait/runs", RunsHandler),
                (rf"/plait/runs/{run}", RunHandler),
                (rf"/plait/runs/{run}/resume", ResumeHandler),
            ]
        )

    async def stop_extension(self) -> None:
        if self._ws is not None:
            self._ws.close()
        if self.workers is not None and self.workers.poll() is None:
            self.workers.terminate()  # plait up stops its children on SIGTERM
            try:
                await asyncio.to_thread(self.workers.wait, 30)
            except subprocess.TimeoutExpired:
                self.workers.kill()


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "kernel_ext.server", "app": PlaitExtension}]
