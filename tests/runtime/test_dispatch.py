"""``Dispatcher.execute`` (a worker's task handler) on a real SQLite workspace: a queued run is
started and leased in one write, and the write of its final status drops the lease, so a worker
writes no separate claim, transition or release."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workspace.domain.run import RunStatus
from workspace.queue.ports import Task
from workspace.runtime.workspace import Workspace
from workspace.settings import Settings

FLOW = """
name: Sum
slug: sum
trigger: manual
steps:
  - id: add
    type: calculator
    expression: "{{ trigger.a }} + 2"
"""


class Recording:
    """The store's lease repository, recording which of its methods a worker calls."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if callable(attr) and name in {"start", "claim", "release"}:

            def call(*args: Any, **kwargs: Any) -> Any:
                self.calls.append(name)
                return attr(*args, **kwargs)

            return call
        return attr


def test_a_queued_run_costs_one_lease_write_and_none_to_end(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path, settings=Settings(workspace_dir=tmp_path))
    try:
        ws.import_dsl(FLOW)
        run = ws.engine.create(ws.prepare_run("sum", {"a": 40}))
        leases = Recording(ws.store.leases)
        ws.store.leases = leases  # type: ignore[misc]

        ws.dispatcher.execute(Task("run", run.id))
        done = ws.store.runs.get(run.id)
        assert done.status == RunStatus.SUCCEEDED and done.output == {"output": 42}
        assert leases.calls == ["start"]  # no claim, no release
        assert ws.store.leases.get(run.id).owner is None
        assert ws.leases.held == set()

        ws.dispatcher.execute(Task("run", run.id))  # a duplicate task: finished, nothing to do
        assert leases.calls == ["start"]
    finally:
        ws.close()
