"""``Timers``: what happens when a waiting run's time comes (SPEC §3 ``wait``, §4.5, §4.6).

A run driven by workers parks instead of sleeping through a long ``wait`` or retry backoff:
it is ``waiting`` with the timer in ``pending["timers"]`` and its ``wake_at`` set (in the same
write). Human requests of nodes with ``timeout_s`` carry a ``deadline``; the run's ``wake_at``
is the earliest of all. When it passes, the sweeper sends a ``wake`` task and the worker that
takes it calls :meth:`Timers.wake`: requests past their deadline are answered by
``system:timeout`` (journaled like any answer; their one-time token is used up, so a late
answer gets a clear conflict), then the run continues from its checkpoint. Inline workspaces
(no workers, no sweeper) call :meth:`Timers.fire_due` themselves.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workspace.domain.events import EventType
from workspace.domain.run import TIMEOUT_ACTOR, Run, RunStatus
from workspace.domain.workflow import utcnow
from workspace.engine.compiler import ANSWER_PREFIX
from workspace.engine.pending import next_wake
from workspace.errors import InvalidTransition

if TYPE_CHECKING:
    from workspace.runtime.workspace import Workspace

log = logging.getLogger(__name__)

#: journal key of a used one-time token
TOKEN_PREFIX = "token:"


class Timers:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def expire(self, run: Run) -> list[dict[str, Any]]:
        """Answer the run's open requests whose deadline passed as ``system:timeout`` (the
        node applies its ``on_timeout``); returns those requests. A person's answer journaled
        first wins; a request already expired is not answered twice."""
        runs = self.ws.store.runs
        now = utcnow()
        expired = []
        for req in (run.pending or {}).get("requests", []):
            deadline = req.get("deadline")
            if not deadline or datetime.fromisoformat(deadline) > now:
                continue
            if runs.journal_get(run.id, TOKEN_PREFIX + req["token"]) is not None:
                continue  # answered (by a person, or by an earlier wake)
            answer = {
                "timed_out": True,
                "answered_by": TIMEOUT_ACTOR,
                "on_timeout": req["request"].get("on_timeout"),
                "deadline": deadline,
            }
            key = ANSWER_PREFIX + req["key"]
            runs.journal_put(
                run.id, key, {"value": answer, "token": req["token"], "timed_out": True}
            )
            if not (runs.journal_get(run.id, key) or {}).get("timed_out"):
                continue  # a person's answer was journaled first: it stands
            runs.journal_put(
                run.id, TOKEN_PREFIX + req["token"], {"value": True, "timed_out": True}
            )
            self.ws.emit(
                run,
                EventType.HUMAN_ANSWERED,
                node_id=req.get("node_id"),
                answer=answer,
                actor=TIMEOUT_ACTOR,
                timed_out=True,
            )
            expired.append(req)
        return expired

    def wake(self, run: Run, *, depth: int = 0) -> Run:
        """Continue a waiting run whose time came (or that has an answer): expire what is past
        its deadline, then resume from the checkpoint. Woken early, it only sets its wake time
        again."""
        if run.status != RunStatus.WAITING:
            return run
        self.expire(run)
        engine = self.ws.engine
        runs = self.ws.store.runs
        if engine.ready(run):
            try:
                return engine.resume(run, self.ws.graph_of(run), depth=depth)
            except InvalidTransition:
                return runs.get(run.id)  # someone else resumed or cancelled it first
        nxt = next_wake(run.pending)
        if nxt is not None:
            self.ws.store.leases.set_wake(run.id, nxt)
        return runs.get(run.id)

    def fire_due(self) -> int:
        """Wake, in this process, every waiting run whose wake time passed (what the
        sweeper's ``wake`` tasks do when there are workers); returns how many."""
        leases = self.ws.store.leases
        fired = 0
        for lease in leases.due():
            if leases.take_wake(lease, retry_after_s=self.ws.settings.runtime.queued_grace_s):
                try:
                    self.wake(self.ws.store.runs.get(lease.run_id))
                except Exception:
                    log.exception("waking run %s failed", lease.run_id)
                fired += 1
        return fired
