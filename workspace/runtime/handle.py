"""``RunHandle``: what ``Workspace.run`` returns — a run with its steps and events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workspace.domain.events import Event
from workspace.domain.run import Run, RunStatus, StepRecord
from workspace.domain.usage import Usage

if TYPE_CHECKING:
    from workspace.domain.ports import Store


class RunHandle:
    def __init__(self, store: Store, run: Run) -> None:
        self._store = store
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
        """Open human requests (each with ``token``, ``node_id``, ``request``)."""
        return list((self.run.pending or {}).get("requests", []))

    @property
    def timers(self) -> list[dict[str, Any]]:
        """Durable timers the run waits for (each with ``node_id``, ``reason``: ``wait`` or
        ``retry``, and ``until``); the run's ``wake_at`` is the earliest timer or deadline."""
        return list((self.run.pending or {}).get("timers", []))

    @property
    def token(self) -> str | None:
        """The one-time token of the first open human request, if any."""
        return self.pending[0]["token"] if self.pending else None

    @property
    def usage(self) -> Usage:
        """LLM tokens and cost of the run and its sub-workflow runs (see ``run_usage``)."""
        return run_usage(self._store, self.id)

    @property
    def steps(self) -> list[StepRecord]:
        return self._store.runs.list_steps(self.run.id)

    @property
    def events(self) -> list[Event]:
        return self._store.events.list(self.run.id)

    def refresh(self) -> RunHandle:
        self.run = self._store.runs.get(self.run.id)
        return self

    def summary(self) -> dict[str, Any]:
        """The ``plait run --json`` shape."""
        return {
            "run_id": self.run.id,
            "status": self.run.status.value,
            "output": self.run.output,
            "error": self.run.error,
            "steps": [
                {
                    "node_id": s.node_id,
                    "iteration": s.iteration,
                    "status": s.status.value,
                    "output": s.output,
                    "error": s.error,
                }
                for s in self.steps
            ],
            **(
                {
                    "pending": [
                        {
                            "node_id": p["node_id"],
                            "token": p["token"],
                            "request": p["request"],
                            "deadline": p.get("deadline"),
                        }
                        for p in self.pending
                    ]
                }
                if self.pending
                else {}
            ),
            **({"timers": self.timers} if self.timers else {}),
            **({"wake_at": self.run.wake_at.isoformat()} if self.run.wake_at else {}),
        }

    def __repr__(self) -> str:
        return f"<RunHandle {self.run.id} {self.run.workflow_slug} {self.run.status.value}>"


def run_usage(store: Store, run_id: str) -> Usage:
    """Tokens and cost of a run's steps and of every run below it (sub-workflows)."""
    ids, frontier = [run_id], [run_id]
    while frontier:
        children = [c.id for p in frontier for c in store.runs.list(parent_run_id=p, limit=1000)]
        ids += children
        frontier = children
    return store.runs.usage(run_ids=ids)
