"""``ScheduleSync``: keep a workflow's schedules in step with its latest published version.

One schedule per ``trigger_schedule`` node of the latest version. A new node gets a schedule
whose first slot is the first after now; a changed configuration recomputes the next slot and
keeps the pause state and counters; a removed node's schedule is deleted (a deleted workflow's
schedules go with it, by the database's cascade). Publishing calls ``sync``; the scheduler's
leader calls ``sync_all`` now and then, so nothing depends on which process published.
"""

from __future__ import annotations

import logging

from workspace.domain.graph import Node
from workspace.domain.ports import Store
from workspace.domain.schedule import Schedule
from workspace.domain.workflow import Version, Workflow
from workspace.errors import ConfigurationError, ConflictError, NotFoundError
from workspace.runtime.scheduler.clock import Clock, SystemClock
from workspace.runtime.scheduler.spec import SCHEDULE_TYPE, ScheduleSpec, config_hash
from workspace.sdk.registry import NodeRegistry

__all__ = ["ScheduleSync"]

log = logging.getLogger(__name__)

_ATTEMPTS = 5
_PAGE = 500


class ScheduleSync:
    def __init__(self, store: Store, registry: NodeRegistry, clock: Clock | None = None) -> None:
        self.store = store
        self.registry = registry
        self.clock: Clock = clock or SystemClock()

    def sync(self, workflow: Workflow, version: Version | None) -> list[Schedule]:
        """Make ``workflow``'s schedules match ``version`` (None: the workflow has none)."""
        nodes: dict[str, Node] = {}
        if version is not None:
            nodes = {n.id: n for n in version.graph.nodes if n.type == SCHEDULE_TYPE}
        repo = self.store.schedules
        existing = {s.trigger_id: s for s in repo.list(workflow_id=workflow.id, limit=10_000)}
        for trigger_id, old in existing.items():
            if trigger_id not in nodes:
                repo.delete(old.id)
                log.info("schedule %s of %s/%s removed", old.id, workflow.slug, trigger_id)
        out: list[Schedule] = []
        for node in nodes.values():
            assert version is not None
            try:
                spec = ScheduleSpec.of(self.registry, node)
            except ConfigurationError as exc:  # saved before a stricter node type: say so
                log.warning("workflow %s: %s", workflow.slug, exc.message)
                continue
            out.append(self._one(workflow, version, node, spec))
        return out

    def sync_all(self) -> int:
        """Sync every workflow with its latest version; returns how many schedules exist."""
        count = offset = 0
        while True:
            page = self.store.workflows.list(limit=_PAGE, offset=offset)
            for wf in page:
                try:
                    number = self.store.workflows.latest_version_number(wf.id)
                    version = self.store.workflows.get_version(wf.id, number)
                except NotFoundError:
                    version = None  # never published (or deleted meanwhile)
                count += len(self.sync(wf, version))
            if len(page) < _PAGE:
                return count
            offset += _PAGE

    def _one(self, wf: Workflow, version: Version, node: Node, spec: ScheduleSpec) -> Schedule:
        repo = self.store.schedules
        digest = config_hash(node)
        for _ in range(_ATTEMPTS):
            now = self.clock.now()
            current = repo.find(wf.id, node.id)
            if current is None:
                fresh = Schedule(
                    workflow_id=wf.id,
                    workflow_slug=wf.slug,
                    trigger_id=node.id,
                    version=version.number,
                    config_hash=digest,
                    next_fire_at=spec.cadence(anchor=now).next_after(now),
                ).woken(now)
                try:
                    created = repo.create(fresh)
                except ConflictError:
                    continue  # another process created it: sync that one
                log.info("schedule %s of %s/%s created", created.id, wf.slug, node.id)
                return created
            update: dict[str, object] = {"version": version.number, "workflow_slug": wf.slug}
            if current.config_hash != digest:
                done = spec.repeats is not None and current.fires >= spec.repeats
                update.update(
                    config_hash=digest,
                    done=done,
                    next_fire_at=None if done else spec.cadence(anchor=now).next_after(now),
                    retry_at=None,
                    retry_slot=None,
                )
            changed = current.model_copy(update=update)
            if changed == current:
                return current
            try:
                return repo.save(changed.woken(now))[0]
            except ConflictError:
                continue  # the scheduler stored a fire meanwhile: apply the change again
        raise ConflictError(
            f"could not sync the schedule of {wf.slug}/{node.id}: it keeps changing",
            code="schedule_changed",
        )
