"""``ScheduleControl``: what people do with schedules (API, CLI): list, look, pause, resume,
run now. Every change is a compare-and-set on the schedule, retried if the scheduler stored a
fire meanwhile."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from workspace.domain.run import Run
from workspace.domain.schedule import FireKind, Schedule
from workspace.errors import ConflictError, NotFoundError
from workspace.runtime.scheduler.clock import Clock, SystemClock
from workspace.runtime.scheduler.firing import Firer
from workspace.runtime.scheduler.launcher import Launcher, default_launcher
from workspace.runtime.scheduler.planner import Fire, Plan, cadence_of
from workspace.runtime.scheduler.scheduler import policy_of
from workspace.runtime.scheduler.spec import SCHEDULE_TYPE, ScheduleSpec

if TYPE_CHECKING:
    from workspace.runtime.workspace import Workspace

__all__ = ["ScheduleControl"]

_ATTEMPTS = 10


class ScheduleControl:
    def __init__(
        self, ws: Workspace, *, clock: Clock | None = None, launcher: Launcher | None = None
    ) -> None:
        self.ws = ws
        self.clock: Clock = clock or SystemClock()
        self.launcher = launcher or default_launcher(ws)

    def list(
        self,
        *,
        workflow: str | None = None,
        owner: str | None = None,
        paused: bool | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Schedule]:
        """``workflow`` is a slug (an unknown one lists nothing)."""
        workflow_id = None
        if workflow is not None:
            wf = self.ws.store.workflows.find(workflow)
            if wf is None:
                return []
            workflow_id = wf.id
        return self.ws.store.schedules.list(
            workflow_id=workflow_id, owner=owner, paused=paused, limit=limit, offset=offset
        )

    def get(self, schedule_id: str) -> Schedule:
        return self.ws.store.schedules.get(schedule_id)

    def spec(self, schedule: Schedule) -> ScheduleSpec:
        """The configuration the schedule follows (from its workflow's version)."""
        version = self.ws.version(schedule.workflow_id, schedule.version)
        node = next((n for n in version.graph.nodes if n.id == schedule.trigger_id), None)
        if node is None or node.type != SCHEDULE_TYPE:
            raise NotFoundError(
                f"schedule {schedule.id!r} has no trigger in its workflow any more",
                code="schedule_not_found",
            )
        return ScheduleSpec.of(self.ws.registry, node)

    def pause(self, schedule_id: str) -> Schedule:
        """No fires (nor retries) until resumed; runs in flight go on."""
        return self._change(schedule_id, lambda s, spec: s.model_copy(update={"paused": True}))

    def resume(self, schedule_id: str) -> Schedule:
        """Fire again. ``catch_up: skip`` continues at the next slot after now; ``run_once``
        and ``run_all`` fire the slots missed while paused at the next tick, as after downtime."""

        def resumed(s: Schedule, spec: ScheduleSpec) -> Schedule:
            if not s.paused:
                return s
            update: dict[str, object] = {"paused": False}
            if spec.catch_up == "skip" and s.next_fire_at is not None:
                now = self.clock.now()
                update["next_fire_at"] = cadence_of(s, spec, now).next_after(now)
            return s.model_copy(update=update)

        return self._change(schedule_id, resumed)

    def run_now(self, schedule_id: str) -> Run:
        """Start a run of the schedule at once (``scheduled_at`` = now), whatever its pause,
        cadence or overlap; it is counted and watched like any fire."""
        for _ in range(_ATTEMPTS):
            current = self.get(schedule_id)
            spec = self.spec(current)
            now = self.clock.now()
            decided = Plan(state=current, fires=[Fire(FireKind.MANUAL, now)])
            firer = Firer(
                self.ws,
                self.launcher,
                policy_of(self.ws),
                key_ttl_s=self.ws.settings.scheduler.fire_key_ttl_s,
            )
            try:
                _, runs = firer.carry_out(current, decided, spec, now)
            except ConflictError:
                continue
            if not runs:
                raise ConflictError(
                    f"schedule {schedule_id!r} could not start a run (see its last_error)",
                    code="schedule_fire_failed",
                )
            return runs[0]
        raise ConflictError(f"schedule {schedule_id!r} keeps changing", code="schedule_changed")

    def _change(
        self, schedule_id: str, change: Callable[[Schedule, ScheduleSpec], Schedule]
    ) -> Schedule:
        for _ in range(_ATTEMPTS):
            current = self.get(schedule_id)
            changed = change(current, self.spec(current)).woken(self.clock.now())
            if changed == current:
                return current
            try:
                return self.ws.store.schedules.save(changed)[0]
            except ConflictError:
                continue
        raise ConflictError(f"schedule {schedule_id!r} keeps changing", code="schedule_changed")
