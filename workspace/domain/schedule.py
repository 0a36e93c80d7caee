"""Schedules: the runtime state of one ``trigger_schedule`` node (SPEC §6 "Scheduler").

A schedule belongs to one (workflow, trigger node) pair whose node is a ``trigger_schedule`` in
the workflow's latest published version. Its configuration (interval or cron, time zone,
repeats, catch-up, overlap, retries, payload) lives in that version; the schedule keeps only
state: when it fires next, whether it is paused or done, its counters, the runs it started and
has not yet seen finish, and a pending retry. ``rev`` is bumped by every stored change, so two
schedulers that read the same state cannot both store what they did (compare-and-set).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from workspace.domain.workflow import new_id, utcnow

__all__ = ["FireKind", "InFlight", "Schedule", "fire_key"]


class FireKind(StrEnum):
    #: a regular slot of the cadence (counts towards ``repeats``)
    SLOT = "slot"
    #: a failed fire tried again after a backoff
    RETRY = "retry"
    #: ``run-now`` by a person
    MANUAL = "manual"


class InFlight(BaseModel):
    """A run the schedule started and has not seen finish yet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    #: the slot the run is for (its ``scheduled_at``)
    slot: datetime
    kind: FireKind = FireKind.SLOT
    #: 0 for a first fire, n for the n-th retry
    attempt: int = 0
    #: False until a send of its task is known to have succeeded (re-sent with the same id)
    sent: bool = False


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_id)
    workflow_id: str
    workflow_slug: str
    #: the ``trigger_schedule`` node's id
    trigger_id: str
    #: the published version whose configuration the schedule follows
    version: int
    #: hash of the node's configuration in that version (a change recomputes the next fire)
    config_hash: str
    #: the next regular slot (UTC); None once done
    next_fire_at: datetime | None = None
    paused: bool = False
    #: ``repeats`` fires made: no more regular slots
    done: bool = False
    #: regular slots fired (what ``repeats`` counts)
    fires: int = 0
    #: retry runs started
    retries: int = 0
    #: slots that came due but were not fired (previous run unfinished, or backing off)
    skipped: int = 0
    #: fires that failed (their run failed, or their task could not be sent)
    failures: int = 0
    consecutive_failures: int = 0
    #: when the pending retry is due (None: no retry pending)
    retry_at: datetime | None = None
    #: the slot a pending retry re-runs (None: the retry re-sends unsent tasks only)
    retry_slot: datetime | None = None
    #: the slot of the newest fire
    last_fire_at: datetime | None = None
    last_run_id: str | None = None
    #: the newest run's status as last seen
    last_status: str | None = None
    last_error: str | None = None
    in_flight: tuple[InFlight, ...] = ()
    #: when a scheduler must look at this schedule next (derived: see :meth:`attention_at`)
    wake_at: datetime | None = None
    rev: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    def attention_at(self, now: datetime) -> datetime | None:
        """When a scheduler must look at this schedule next: at once while it has runs in
        flight (to see how they end), else at its next slot or retry, never while paused
        (paused schedules fire nothing) or done without a retry."""
        if self.in_flight:
            return now
        if self.paused:
            return None
        due = [t for t in (self.retry_at, None if self.done else self.next_fire_at) if t]
        return min(due) if due else None

    def woken(self, now: datetime) -> Schedule:
        """A copy with ``wake_at`` recomputed (every writer stores it this way). A schedule
        already due because of its runs in flight keeps its ``wake_at``, so watching a long
        run changes (and writes) nothing."""
        at = self.attention_at(now)
        if self.in_flight and self.wake_at is not None and self.wake_at <= now:
            at = self.wake_at
        return self.model_copy(update={"wake_at": at})


def fire_key(schedule_id: str, slot: datetime, kind: FireKind, attempt: int = 0) -> str:
    """The deterministic identity of a fire: the same schedule, slot and attempt always give
    the same key, so its run is stored once however many schedulers try."""
    stamp = slot.isoformat()
    if kind == FireKind.RETRY:
        return f"{schedule_id}@{stamp}#retry{attempt}"
    if kind == FireKind.MANUAL:
        return f"{schedule_id}@{stamp}#manual"
    return f"{schedule_id}@{stamp}"
