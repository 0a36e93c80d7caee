"""Sub-workflow runs (SPEC §3 ``subworkflow``): a child run per parent node, created once
(journaled under the parent's idempotency key), run inline, and awaited. A child that waits for
a human makes the parent wait; the parent's answer is forwarded to the child exactly once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workspace.domain.run import RunStatus
from workspace.engine.context import journaled
from workspace.engine.services import RunContext
from workspace.errors import NodeError

if TYPE_CHECKING:
    from workspace.runtime.workspace import Workspace


class InlineChildRunner:
    def __init__(self, workspace: Workspace, max_depth: int) -> None:
        self._ws = workspace
        self._max_depth = max_depth

    def __call__(
        self,
        parent: RunContext,
        node_id: str,
        key: str,
        slug: str,
        payload: Any,
        ask: Callable[[dict[str, Any]], Any],
    ) -> Any:
        if parent.depth + 1 > self._max_depth:
            raise NodeError(
                f"sub-workflow depth limit {self._max_depth} reached at {slug!r}",
                code="depth_limit",
                node_id=node_id,
                retryable=False,
            )
        runs = self._ws.store.runs
        child_id = journaled(
            runs,
            parent.run.id,
            f"{key}:child",
            lambda: (
                self._ws.create_run(
                    slug, payload, parent_run_id=parent.run.id, user=parent.run.user
                ).id
            ),
        )
        answered = 0
        while True:
            child = runs.get(child_id)
            if child.status == RunStatus.SUCCEEDED:
                return child.output
            if child.status in (RunStatus.FAILED, RunStatus.CANCELLED):
                err = child.error or {}
                raise NodeError(
                    f"sub-workflow {slug!r} run {child.id} {child.status.value}: "
                    f"{err.get('message', '')}".rstrip(": "),
                    code="child_failed",
                    node_id=node_id,
                    retryable=False,
                    child_run_id=child.id,
                )
            if child.status == RunStatus.WAITING:
                requests = (child.pending or {}).get("requests", [])
                req = requests[0]
                answer = ask(
                    {
                        **req["request"],
                        "child_run_id": child.id,
                        "child_node_id": req.get("node_id"),
                    }
                )
                # record which request this answer is for BEFORE forwarding it, so a replay
                # after a crash forwards to the same request (resume is idempotent per token)
                current_token: str = req["token"]
                token = journaled(
                    runs,
                    parent.run.id,
                    f"{key}:child:answer:{answered}",
                    lambda t=current_token: t,  # type: ignore[misc]
                )
                self._ws.resume_run(child.id, token, answer, depth=parent.depth + 1)
                answered += 1
                continue
            self._ws.drive_child(child, depth=parent.depth + 1)
