"""``RemoteRunHandle``: a run read over HTTP, with the ``RunHandle`` surface."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workspace.domain.events import Event
from workspace.domain.run import Run, RunStatus, StepRecord
from workspace.domain.usage import Usage

if TYPE_CHECKING:
    from workspace.client.remote import RemoteWorkspace


class RemoteRunHandle:
    def __init__(self, client: RemoteWorkspace, run: Run) -> None:
        self._client = client
        self.run = run

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def status(self) -> RunStatus:
        return self.run.status

    @property
    def output(self) -> Any:
        return self.run.output

    @property
    def error(self) -> dict[str, Any] | None:
        return self.run.error

    @property
    def pending(self) -> list[dict[str, Any]]:
        return list((self.run.pending or {}).get("requests", []))

    @property
    def token(self) -> str | None:
        return self.pending[0]["token"] if self.pending else None

    @property
    def usage(self) -> Usage:
        """LLM tokens and cost of the run and its sub-workflow runs."""
        return self._client.usage(self.run.id)

    @property
    def steps(self) -> list[StepRecord]:
        return self._client.steps(self.run.id)

    @property
    def events(self) -> list[Event]:
        return self._client.stored_events(self.run.id)

    def refresh(self) -> RemoteRunHandle:
        self.run = self._client.get_run(self.run.id).run
        return self

    def __repr__(self) -> str:
        return f"<RemoteRunHandle {self.run.id} {self.run.workflow_slug} {self.run.status.value}>"
