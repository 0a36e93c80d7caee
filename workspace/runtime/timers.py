"""``Timers``: what happens when a waiting run's time comes (SPEC §3 ``wait``, §4.5, §4.6).

A run driven by workers parks instead of sleeping through a long ``wait`` or retry backoff:
it is ``waiting`` with the timer in ``pending["timers"]`` and its ``wake_at`` set (in the same
write). Human requests of nodes with ``timeout_s`` carry a ``deadline``; the run's ``wake_at``
is the earliest of all. When it passes, the sweeper sends a ``wake`` task and the worker that
takes it calls :meth:`Timers.wake`: requests past their deadline are answered by
``system:timeout`` (journaled like any answer; their one-time token is used up, so a late
answer gets a clear conflict), then the run continues from its checkpoint.

Without workers there is no sweeper: :class:`InlineTimerKeeper` fires due timers from a thread
of the process whose run started waiting (a notebook kernel, a script), every
``runtime.inline_timer_poll_s``, for as long as that process lives. Firing is a compare-and-set
on the run's wake time (``take_wake``), so two processes — or a keeper and a sweeper — never
fire one timer twice. :meth:`Timers.fire_due` is the same pass, callable directly.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workspace.domain.events import Event, EventType
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


class InlineTimerKeeper:
    """Fires due timers in this process when no workers do (see the module docstring).

    Started by the first ``node_waiting`` event of a run in this process (nothing runs before:
    a CLI command that never parks a run starts no thread); each pass calls
    :meth:`Timers.fire_due` unless workers are seen (their sweeper wakes the runs).
    """

    def __init__(self, ws: Workspace, poll_s: float) -> None:
        self.ws = ws
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def on_event(self, event: Event) -> None:
        """An event subscriber (called under the event log's lock: starts a thread, no I/O)."""
        if event.type == EventType.NODE_WAITING and self._thread is None:
            self.start()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(
                target=self._loop, name="plait-inline-timers", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                if not self.ws.remote:
                    self.ws.timers.fire_due()
            except Exception:  # the database away for a moment: the next pass tries again
                log.warning("firing due timers failed", exc_info=True)
