"""``Scheduler``: the loop that makes schedules fire (``plait scheduler``, one in ``plait up``).

Every ``tick_s`` the scheduler makes sure it leads (``Leadership``); the leader asks the store
for the schedules due now (``wake_at``), plans each one (``planner.plan``) and carries the plan
out (``Firer``). Every ``sync_interval_s`` the leader also reconciles all schedules with the
workflows' latest versions. Standby schedulers only renew their bid for the lock.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from workspace.domain.graph import Node
from workspace.domain.run import Run, RunStatus
from workspace.domain.schedule import Schedule
from workspace.errors import ConflictError, NotFoundError, PlaitError
from workspace.queue.ports import Locks
from workspace.runtime.scheduler.clock import Clock, SystemClock
from workspace.runtime.scheduler.firing import Firer
from workspace.runtime.scheduler.launcher import Launcher, default_launcher
from workspace.runtime.scheduler.leader import Leadership
from workspace.runtime.scheduler.planner import Policy, RunView, plan
from workspace.runtime.scheduler.spec import SCHEDULE_TYPE, ScheduleSpec
from workspace.runtime.scheduler.sync import ScheduleSync

if TYPE_CHECKING:
    from workspace.runtime.workspace import Workspace

__all__ = ["Scheduler", "policy_of"]

log = logging.getLogger(__name__)


def policy_of(ws: Workspace) -> Policy:
    cfg = ws.settings.scheduler
    return Policy(
        misfire_grace_s=cfg.misfire_grace_s,
        catch_up_cap=cfg.catch_up_cap,
        retry_base_s=cfg.retry_base_s,
    )


class Scheduler:
    def __init__(
        self,
        ws: Workspace,
        locks: Locks,
        *,
        owner: str,
        clock: Clock | None = None,
        launcher: Launcher | None = None,
    ) -> None:
        cfg = ws.settings.scheduler
        self.ws = ws
        self.clock: Clock = clock or SystemClock()
        self.settings = cfg
        self.policy = policy_of(ws)
        self.leadership = Leadership(locks, owner, name=cfg.lock_name, ttl_s=cfg.lock_ttl_s)
        self.firer = Firer(
            ws, launcher or default_launcher(ws), self.policy, key_ttl_s=cfg.fire_key_ttl_s
        )
        self.sync = ScheduleSync(ws.store, ws.registry, self.clock)
        self._synced_at: float | None = None

    @property
    def owner(self) -> str:
        return self.leadership.owner

    def tick(self) -> list[Run]:
        """One pass: the runs it started (none unless this scheduler leads)."""
        if not self.leadership.hold():
            return []
        if self._synced_at is None or (
            time.monotonic() - self._synced_at >= self.settings.sync_interval_s
        ):
            self.sync.sync_all()
            self._synced_at = time.monotonic()
        started: list[Run] = []
        now = self.clock.now()
        for schedule in self.ws.store.schedules.due(now, limit=self.settings.batch):
            if not self.leadership.still():
                break
            try:
                started += self.process(schedule)
            except ConflictError:
                continue  # changed meanwhile (a pause, a sync, another scheduler): next tick
            except PlaitError as exc:
                log.warning("schedule %s: %s", schedule.id, exc.message)
        return started

    def process(self, schedule: Schedule) -> list[Run]:
        """Plan and carry out one schedule now; returns the runs it started."""
        spec = self._spec(schedule)
        if spec is None:
            return []
        now = self.clock.now()
        views = {e.run_id: self._view(e.run_id) for e in schedule.in_flight}
        decided = plan(schedule, spec, now, views, self.policy)
        for note in decided.notes:
            log.warning("%s", note)
        return self.firer.carry_out(schedule, decided, spec, now)[1]

    def serve(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set, then give the leadership up."""
        log.info("scheduler %s started (tick %.2f s)", self.owner, self.settings.tick_s)
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except Exception:  # database or Redis away: stand by, try again
                    log.warning("scheduler tick failed", exc_info=True)
                    stop.wait(min(5.0, self.settings.lock_ttl_s))
                stop.wait(self.settings.tick_s)
        finally:
            self.leadership.release()
            log.info("scheduler %s stopped", self.owner)

    def _spec(self, schedule: Schedule) -> ScheduleSpec | None:
        """The configuration the schedule follows; None (and a resync) when its workflow or
        node is gone."""
        try:
            version = self.ws.version(schedule.workflow_id, schedule.version)
        except NotFoundError:
            version = None
        node: Node | None = None
        if version is not None:
            node = next((n for n in version.graph.nodes if n.id == schedule.trigger_id), None)
        if node is None or node.type != SCHEDULE_TYPE:
            self._resync(schedule)
            return None
        return ScheduleSpec.of(self.ws.registry, node)

    def _resync(self, schedule: Schedule) -> None:
        try:
            wf = self.ws.store.workflows.get_by_id(schedule.workflow_id)
        except NotFoundError:
            self.ws.store.schedules.delete(schedule.id)
            return
        try:
            version = self.ws.store.workflows.get_version(wf.id)
        except NotFoundError:
            version = None
        self.sync.sync(wf, version)

    def _view(self, run_id: str) -> RunView:
        try:
            run = self.ws.store.runs.get(run_id)
        except NotFoundError:
            return RunView(None)
        error = None
        if run.status == RunStatus.FAILED and isinstance(run.error, dict):
            error = str(run.error.get("message") or run.error.get("code") or "failed")
        return RunView(run.status, error)
