"""``RemoteWorkspace``: the notebook-facing surface of ``Workspace`` over ``/api/v1``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from workspace.client.handle import RemoteRunHandle
from workspace.domain.events import Event, EventType
from workspace.domain.graph import WorkflowGraph
from workspace.domain.run import Run, StepRecord
from workspace.domain.usage import Usage
from workspace.domain.workflow import Workflow
from workspace.errors import (
    AccessDenied,
    ConflictError,
    DSLError,
    NotFoundError,
    PlaitError,
    Problem,
    UpstreamError,
    ValidationError,
)

API = "/api/v1"
#: events after which a run says nothing more
FINAL_EVENTS = frozenset({EventType.RUN_SUCCEEDED, EventType.RUN_FAILED, EventType.RUN_CANCELLED})


@dataclass(frozen=True)
class VersionInfo:
    number: int
    content_hash: str
    author: str | None
    message: str
    created_at: str


class RemoteReport:
    """A validation report from the server: ``valid`` and the ``to_json()`` shape."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def valid(self) -> bool:
        return bool(self.data.get("valid"))

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)


class RemoteWorkspace:
    def __init__(self, url: str, key: str, *, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url + API,
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteWorkspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RemoteWorkspace {self.url}>"

    # -- transport ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise UpstreamError(
                f"cannot reach the Plait server at {self.url}: {exc}", code="unreachable"
            ) from None
        if response.status_code >= 400:
            raise _error(response)
        if response.status_code == 204 or not response.content:
            return None
        if "json" not in response.headers.get("content-type", ""):
            return response.text
        return response.json()

    # -- workflows ---------------------------------------------------------------------------

    def validate(self, text: str, *, draft: bool = False) -> RemoteReport:
        return RemoteReport(
            self._call("POST", "/workflows/validate", json={"dsl": text, "draft": draft})
        )

    def save(self, text: str, *, draft: bool = False) -> Workflow:
        data = self._call("POST", "/workflows", json={"dsl": text, "draft": draft})
        return Workflow.model_validate(data["workflow"])

    def publish(self, slug: str, *, message: str = "") -> VersionInfo:
        data = self._call("POST", f"/workflows/{slug}/publish", params={"message": message})
        return VersionInfo(**data)

    def save_step(
        self,
        slug: str,
        step_id: str,
        body: str,
        *,
        type: str | None = None,
        after: str | None = None,
    ) -> Workflow:
        data = self._call(
            "PUT",
            f"/workflows/{slug}/steps/{step_id}",
            json={"body": body, "type": type, "after": after},
        )
        return Workflow.model_validate(data["workflow"])

    def graph(self, slug: str, *, draft: bool = True) -> WorkflowGraph:
        data = self._call("GET", f"/workflows/{slug}/graph", params={"draft": draft})
        return WorkflowGraph.model_validate(data)

    def export(self, slug: str, *, format: str = "yaml", version: int | None = None) -> str:
        params: dict[str, Any] = {"format": format}
        if version is not None:
            params["version"] = version
        out = self._call("GET", f"/workflows/{slug}/export", params=params)
        return out if isinstance(out, str) else json.dumps(out, indent=2)

    def workflow(self, slug: str) -> Workflow:
        return Workflow.model_validate(self._call("GET", f"/workflows/{slug}")["workflow"])

    def list_workflows(self) -> list[Workflow]:
        data = self._call("GET", "/workflows")
        return [Workflow.model_validate(w) for w in data["items"]]

    # -- runs --------------------------------------------------------------------------------

    def run(
        self,
        slug: str,
        input: Any = None,
        *,
        wait: bool = True,
        trigger: str | None = None,
        version: int | None = None,
        timeout_s: float = 30.0,
    ) -> RemoteRunHandle:
        body = {"input": input, "trigger": trigger, "version": version}
        data = self._call(
            "POST", f"/workflows/{slug}/runs", json={**body, "wait": wait, "timeout_s": timeout_s}
        )
        return RemoteRunHandle(self, Run.model_validate(data["run"]))

    def get_run(self, run_id: str) -> RemoteRunHandle:
        data = self._call("GET", f"/runs/{run_id}")
        for extra in ("steps", "usage"):  # the detail's additions to the run itself
            data.pop(extra, None)
        return RemoteRunHandle(self, Run.model_validate(data))

    def usage(self, run_id: str) -> Usage:
        """LLM tokens and cost of the run and its sub-workflow runs (``RunHandle.usage``)."""
        data = self._call("GET", f"/runs/{run_id}").get("usage") or {}
        return Usage(
            tokens=int(data.get("tokens", 0)),
            cost=float(data.get("known_cost_usd", 0.0)),
            unpriced=int(data.get("unpriced_steps", 0)),
        )

    def steps(self, run_id: str) -> list[StepRecord]:
        data = self._call("GET", f"/runs/{run_id}")
        return [StepRecord.model_validate(s) for s in data.get("steps", [])]

    def runs(self, workflow: str | None = None, *, limit: int = 50) -> list[Run]:
        params: dict[str, Any] = {"limit": limit}
        if workflow is not None:
            params["workflow"] = workflow
        data = self._call("GET", "/runs", params=params)
        return [Run.model_validate(r) for r in data["items"]]

    def resume(
        self, run_id: str, token: str, answer: Any, *, wait: bool = False
    ) -> RemoteRunHandle:
        data = self._call(
            "POST", f"/runs/{run_id}/resume", json={"token": token, "answer": answer, "wait": wait}
        )
        return RemoteRunHandle(self, Run.model_validate(data))

    def cancel(self, run_id: str) -> RemoteRunHandle:
        return RemoteRunHandle(
            self, Run.model_validate(self._call("POST", f"/runs/{run_id}/cancel"))
        )

    def stored_events(self, run_id: str, *, after: int = 0) -> list[Event]:
        out: list[Event] = []
        while True:
            data = self._call("GET", f"/runs/{run_id}/events", params={"after": after})
            page = [Event.model_validate(e) for e in data["items"]]
            if not page:
                return out
            out += page
            after = page[-1].seq

    def events(self, run_id: str, *, after: int = 0) -> Iterator[Event]:
        """The run's events with ``seq > after`` as they happen (Server-Sent Events); ends after
        the run's final event. A dropped stream raises ``UpstreamError`` (resume with the last
        ``seq`` seen)."""
        try:
            with self._http.stream(
                "GET",
                f"/runs/{run_id}/events",
                params={"after": after},
                headers={"Accept": "text/event-stream"},
                timeout=httpx.Timeout(30.0, read=None),
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                data: list[str] = []
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        data.append(line[5:].lstrip())
                    elif not line and data:
                        event = Event.model_validate_json("\n".join(data))
                        data = []
                        yield event
                        if event.type in FINAL_EVENTS:
                            return
        except httpx.TransportError as exc:
            raise UpstreamError(
                f"lost the event stream of run {run_id} from {self.url}: {exc}",
                code="unreachable",
            ) from None
        # the server closed the stream before the run's final event (it stopped, a proxy
        # timed out): the caller resumes from the last seq it saw
        raise UpstreamError(
            f"the event stream of run {run_id} from {self.url} ended early", code="unreachable"
        )

    def wait(self, run_id: str, *, timeout_s: float = 30.0, poll_s: float = 0.2) -> RemoteRunHandle:
        """Poll until the run is finished or waiting for a person."""
        deadline = time.monotonic() + timeout_s
        while True:
            handle = self.get_run(run_id)
            if handle.status.terminal or handle.status.value == "waiting":
                return handle
            if time.monotonic() > deadline:
                return handle
            time.sleep(poll_s)


def _error(response: httpx.Response) -> PlaitError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = str(body.get("code") or f"http_{response.status_code}")
    detail = str(body.get("detail") or response.text or response.reason_phrase)
    status = response.status_code
    if code == "dsl_invalid" and isinstance(body.get("errors"), list):
        problems = [
            Problem(
                message=str(e.get("message", "")),
                code=str(e.get("code", "")),
                path=str(e.get("path", "")),
                line=e.get("line"),
                column=e.get("column"),
            )
            for e in body["errors"]
            if isinstance(e, dict)
        ]
        return DSLError(problems)
    if status in (401, 403):
        return AccessDenied(detail, code=code)
    if status == 404:
        return NotFoundError(detail, code=code)
    if status == 409:
        return ConflictError(detail, code=code)
    if status in (400, 422):
        return ValidationError(detail, code=code)
    return UpstreamError(f"server answered {status}: {detail}", code=code)
