"""``Firer``: carry out a plan — store the fires' runs with the new state, then launch them.

The runs and the schedule's new state are stored in ONE compare-and-set transaction, each run
under its fire key (schedule id + slot [+ attempt]); if another scheduler stored first, nothing
of this attempt is stored (``ConflictError``). Only then are the runs announced and launched
with the fire key as message id. A crash between storing and launching leaves the run's task
unconfirmed: the next tick sends it again (a no-op if it had gone out), and the sweeper sends
any queued run nobody claimed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from workspace.domain.run import Run
from workspace.domain.schedule import Schedule, fire_key
from workspace.errors import PlaitError
from workspace.runtime.scheduler.launcher import Launcher
from workspace.runtime.scheduler.planner import (
    Fire,
    Plan,
    Policy,
    mark_sent,
    record_fires,
    send_failed,
)
from workspace.runtime.scheduler.spec import ScheduleSpec

if TYPE_CHECKING:
    from workspace.runtime.workspace import Workspace

__all__ = ["Firer"]

log = logging.getLogger(__name__)


class Firer:
    def __init__(
        self, ws: Workspace, launcher: Launcher, policy: Policy, *, key_ttl_s: float
    ) -> None:
        self.ws = ws
        self.launcher = launcher
        self.policy = policy
        self.key_ttl_s = key_ttl_s

    def carry_out(
        self, before: Schedule, plan: Plan, spec: ScheduleSpec, now: datetime
    ) -> tuple[Schedule, list[Run]]:
        """Store ``plan`` (compare-and-set against ``before``), launch; returns the stored
        schedule and the new runs. Raises ConflictError if ``before`` is no longer current."""
        state = plan.state
        pairs: list[tuple[str, Run]] = []
        fired: list[tuple[Fire, str]] = []
        for fire in plan.fires:
            key = fire_key(before.id, fire.slot, fire.kind, fire.attempt)
            try:
                run = self.ws.prepare_run(
                    before.workflow_slug,
                    spec.payload_for(fire.slot),
                    trigger=before.trigger_id,
                    version=before.version,
                )
            except PlaitError as exc:  # the workflow cannot run (incomplete, does not compile)
                log.warning("schedule %s: cannot start a run: %s", before.id, exc.message)
                state = send_failed(state, spec, now, self.policy, exc.message, slot=fire.slot)
                continue
            pairs.append((key, run))
            fired.append((fire, run.id))
        state = record_fires(state, fired, sent=not self.launcher.confirms).woken(now)
        if state == before and not plan.resend:
            return before, []
        saved, stored = self.ws.store.schedules.save(state, pairs, key_ttl_s=self.key_ttl_s)
        new_runs = [run for run, new in stored if new]
        for run in new_runs:
            self.ws.announce(run)
        # a key stored before (not new): follow the run it was first stored with
        renamed = {
            mine.id: run.id for (_, mine), (run, new) in zip(pairs, stored, strict=True) if not new
        }
        launches = [(run.id, key) for (key, _), (run, _new) in zip(pairs, stored, strict=True)]
        launches += [
            (e.run_id, fire_key(before.id, e.slot, e.kind, e.attempt)) for e in plan.resend
        ]
        return self._launch(saved, spec, now, launches, renamed), new_runs

    def _launch(
        self,
        saved: Schedule,
        spec: ScheduleSpec,
        now: datetime,
        launches: list[tuple[str, str]],
        renamed: dict[str, str],
    ) -> Schedule:
        ok: set[str] = set()
        error: str | None = None
        for run_id, key in launches:
            try:
                self.launcher.launch(run_id, key)
                ok.add(run_id)
            except Exception as exc:  # the queue is down: counted, retried, swept
                error = f"could not send the run's task: {exc}"
                log.warning("schedule %s: run %s: %s", saved.id, run_id, error)
        if not self.launcher.confirms and not renamed:
            return saved
        after = saved
        if renamed:
            entries = tuple(
                e.model_copy(update={"run_id": renamed.get(e.run_id, e.run_id)})
                for e in after.in_flight
            )
            last = renamed.get(after.last_run_id or "", after.last_run_id)
            after = after.model_copy(update={"in_flight": entries, "last_run_id": last})
        if self.launcher.confirms:
            after = mark_sent(after, ok)
            if error is not None:
                after = send_failed(after, spec, now, self.policy, error)
        after = after.woken(now)
        if after == saved:
            return saved
        try:
            return self.ws.store.schedules.save(after)[0]
        except PlaitError as exc:  # changed meanwhile: the next tick re-sends (a no-op)
            log.info("schedule %s: recording the sends deferred: %s", saved.id, exc.message)
            return saved
