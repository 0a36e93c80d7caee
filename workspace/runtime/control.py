"""``RunControl``: what people do to a run once it exists — answer a human step, cancel,
pause, unpause. Each is one validated status change (or journaled answer) plus its event;
continuing the run goes to the workers when the workspace has them, else runs here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workspace.domain.events import EventType
from workspace.domain.run import Run, RunStatus
from workspace.domain.workflow import utcnow
from workspace.engine.compiler import ANSWER_PREFIX
from workspace.errors import ConflictError, ValidationError
from workspace.runtime.timers import TOKEN_PREFIX

if TYPE_CHECKING:
    from workspace.runtime.workspace import Workspace


class RunControl:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def answer(
        self, run_id: str, token: str, answer: Any, *, depth: int = 0, wait: bool = True
    ) -> Run:
        """Journal the answer to the open request holding ``token``, then continue the run.

        The answer is stored before anything else happens, so it is never lost: if the run is
        busy (another answer is being processed), the engine applies it when the run next
        waits. Repeating a call with a used token returns the run unchanged.
        """
        ws = self.ws
        runs = ws.store.runs
        run = runs.get(run_id)
        used = runs.journal_get(run.id, TOKEN_PREFIX + token)
        if used is not None:
            if used.get("timed_out"):
                raise _timed_out(run_id)
            return run  # this token was already answered
        requests = (run.pending or {}).get("requests", []) if not run.status.terminal else []
        req = next((r for r in requests if r["token"] == token), None)
        if req is None:
            if run.status != RunStatus.WAITING:
                raise ConflictError(
                    f"run {run_id} is {run.status.value}, not waiting for an answer",
                    code="not_waiting",
                )
            raise ValidationError(
                "this resume token is not valid for the run's open request", code="bad_token"
            )
        key = ANSWER_PREFIX + req["key"]
        runs.journal_put(run.id, key, {"value": answer, "token": token})
        if (runs.journal_get(run.id, key) or {}).get("timed_out"):
            raise _timed_out(run_id)  # its deadline passed a moment ago: the timeout answered
        runs.journal_put(run.id, TOKEN_PREFIX + token, {"value": True})
        answered = ws.emit(run, EventType.HUMAN_ANSWERED, node_id=req.get("node_id"), answer=answer)
        if run.status != RunStatus.WAITING:
            return runs.get(run_id)
        if depth == 0 and ws.remote:
            ws.dispatcher.submit(run, "resume")
            return ws.dispatcher.wait(run.id, after=answered.seq) if wait else runs.get(run_id)
        try:
            return ws.engine.resume(run, ws.graph_of(run), depth=depth)
        except ConflictError:
            return runs.get(run_id)  # resumed by someone else at the same moment

    def cancel(self, run_id: str) -> Run:
        """Cancel a run; the engine stops between steps. Child runs are cancelled too."""
        ws = self.ws
        run = ws.store.runs.get(run_id)
        if not run.status.terminal:
            if run.status == RunStatus.RUNNING:  # seen by this process's driver at its next step
                ws.engine.services.stop_requests[run_id] = RunStatus.CANCELLED
            run = ws.store.runs.transition(
                run_id, RunStatus.CANCELLED, finished_at=utcnow(), pending=None
            )
            ws.emit(run, EventType.RUN_CANCELLED)
        for child in ws.store.runs.list(parent_run_id=run_id):
            if not child.status.terminal:
                self.cancel(child.id)
        return run

    def pause(self, run_id: str) -> Run:
        """Pause a queued or running run between nodes (``unpause`` continues it)."""
        ws = self.ws
        run = ws.store.runs.get(run_id)
        if run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
            raise ConflictError(
                f"run {run_id} is {run.status.value}; only queued or running runs can be paused",
                code="not_pausable",
            )
        if run.status == RunStatus.RUNNING:
            ws.engine.services.stop_requests[run_id] = RunStatus.PAUSED
        run = ws.store.runs.transition(run_id, RunStatus.PAUSED)
        ws.emit(run, EventType.RUN_PAUSED)
        return run

    def unpause(self, run_id: str, *, wait: bool = False) -> Run:
        """Continue a paused run from its last checkpoint (by the workers when there are)."""
        ws = self.ws
        run = ws.store.runs.get(run_id)
        if run.status != RunStatus.PAUSED:
            raise ConflictError(
                f"run {run_id} is {run.status.value}, not paused", code="not_paused"
            )
        if not ws.remote:
            return ws.engine.recover(run, ws.graph_of(run))
        # hand it to the queue first: if the task is lost, the sweeper finds the lapsed lease
        leases = ws.store.leases
        leases.requeue(leases.get(run_id), ws.settings.runtime.queued_grace_s)
        run = ws.store.runs.transition(run_id, RunStatus.RUNNING)
        ws.dispatcher.submit(run, "recover")
        return ws.dispatcher.wait(run_id) if wait else run


def _timed_out(run_id: str) -> ConflictError:
    return ConflictError(
        f"this request of run {run_id} timed out before it was answered: its `on_timeout` "
        "was applied (by system:timeout) and the token is used up",
        code="request_timed_out",
    )
