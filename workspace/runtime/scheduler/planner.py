"""What a schedule does at one moment: a pure function of its state, its configuration, the
time and how its runs in flight stand. No I/O, so every rule is tested with a fake clock.

One ``plan`` call, in order:

1. **Observe** the runs in flight. A finished run leaves the list: ``succeeded`` clears the
   consecutive failures and any pending retry; ``failed`` counts a failure and, while the
   consecutive failures are at most ``max_retries``, schedules a retry of its slot after
   ``min(retry_base_s * 2^(n-1), 10 * period)``; ``cancelled`` counts nothing. A queued run
   whose task was never confirmed sent is re-sent (same message id: a no-op if it was).
2. Nothing more while **paused**.
3. A due **retry** fires (a new run for the failed slot), unless the overlap guard holds it.
4. Due **slots**: while a retry is pending (backing off) or the previous run is unfinished
   (``overlap: skip``) they are skipped and counted; otherwise the catch-up policy picks what
   fires — ``skip``: the newest due slot if it is at most ``misfire_grace_s`` late;
   ``run_once``: the newest due slot, once for all; ``run_all``: each due slot, the newest
   ``catch_up_cap`` of them. ``repeats`` ends the schedule (``done``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from workspace.domain.run import RunStatus
from workspace.domain.schedule import FireKind, InFlight, Schedule
from workspace.runtime.scheduler.cadence import Cadence
from workspace.runtime.scheduler.spec import ScheduleSpec

__all__ = ["Fire", "Plan", "Policy", "RunView", "backoff_s", "plan", "record_fires"]

#: the backoff of a retry is capped at this many periods (SPEC §6)
BACKOFF_CAP_PERIODS = 10


@dataclass(frozen=True)
class Policy:
    """The scheduler's settings that shape decisions."""

    misfire_grace_s: float = 30.0
    catch_up_cap: int = 100
    retry_base_s: float = 10.0


@dataclass(frozen=True)
class RunView:
    """How a run in flight stands; ``status=None``: the run is gone."""

    status: RunStatus | None
    error: str | None = None


@dataclass(frozen=True)
class Fire:
    kind: FireKind
    slot: datetime
    attempt: int = 0


@dataclass
class Plan:
    state: Schedule
    fires: list[Fire] = field(default_factory=list)
    #: entries whose task must be (re)sent now
    resend: list[InFlight] = field(default_factory=list)
    #: things worth a warning in the log
    notes: list[str] = field(default_factory=list)


def backoff_s(failures: int, base_s: float, period_s: float) -> float:
    """The wait before retry number ``failures`` (1-based): doubling, capped at 10 periods."""
    return float(min(base_s * 2 ** max(0, failures - 1), BACKOFF_CAP_PERIODS * period_s))


def cadence_of(state: Schedule, spec: ScheduleSpec, now: datetime) -> Cadence:
    return spec.cadence(anchor=state.next_fire_at or now)


def plan(
    state: Schedule,
    spec: ScheduleSpec,
    now: datetime,
    runs: Mapping[str, RunView],
    policy: Policy,
) -> Plan:
    cadence = cadence_of(state, spec, now)
    out = Plan(state=state)
    _observe(out, spec, cadence, now, runs, policy)
    s = out.state
    if s.paused:
        return out
    busy = spec.overlap == "skip" and bool(s.in_flight)
    retried = False
    if s.retry_at is not None and s.retry_at <= now:
        if s.retry_slot is None:
            s = s.model_copy(update={"retry_at": None})  # a re-send retry: done in _observe
        elif not busy:
            attempt = s.consecutive_failures
            out.fires.append(Fire(FireKind.RETRY, s.retry_slot, attempt))
            s = s.model_copy(
                update={"retries": s.retries + 1, "retry_at": None, "retry_slot": None}
            )
            retried = busy = spec.overlap == "skip"
    due = s.next_fire_at is not None and not s.done and s.next_fire_at <= now
    if due:
        assert s.next_fire_at is not None
        slots, total = cadence.recent(s.next_fire_at, now, policy.catch_up_cap)
        following = cadence.next_after(now)
        if retried or busy or s.retry_at is not None:
            s = s.model_copy(update={"skipped": s.skipped + total, "next_fire_at": following})
        else:
            chosen = _catch_up(spec, slots, total, now, policy, out.notes, s.id)
            if spec.repeats is not None:
                chosen = chosen[: max(0, spec.repeats - s.fires)]
            out.fires.extend(Fire(FireKind.SLOT, slot) for slot in chosen)
            fires = s.fires + len(chosen)
            done = spec.repeats is not None and fires >= spec.repeats
            s = s.model_copy(
                update={
                    "fires": fires,
                    "done": done,
                    "next_fire_at": None if done else following,
                }
            )
    out.state = s
    return out


def _catch_up(
    spec: ScheduleSpec,
    slots: Sequence[datetime],
    total: int,
    now: datetime,
    policy: Policy,
    notes: list[str],
    schedule_id: str,
) -> list[datetime]:
    if not slots:
        return []
    newest = slots[-1]
    if spec.catch_up == "run_all":
        if total > len(slots):
            notes.append(
                f"schedule {schedule_id}: more than {policy.catch_up_cap} slots were missed; "
                f"firing the newest {len(slots)} (catch_up_cap)"
            )
        return list(slots)
    if spec.catch_up == "run_once":
        return [newest]
    on_time = (now - newest) <= timedelta(seconds=policy.misfire_grace_s)
    return [newest] if on_time else []


def _observe(
    out: Plan,
    spec: ScheduleSpec,
    cadence: Cadence,
    now: datetime,
    runs: Mapping[str, RunView],
    policy: Policy,
) -> None:
    s = out.state
    kept: list[InFlight] = []
    for entry in s.in_flight:
        view = runs.get(entry.run_id, RunView(None))
        status = view.status
        if status is None:
            continue  # the run is gone (deleted): nothing to wait for
        if entry.run_id == s.last_run_id and s.last_status != status.value:
            s = s.model_copy(update={"last_status": status.value})
        if not status.terminal:
            if not entry.sent and status != RunStatus.QUEUED:
                entry = entry.model_copy(update={"sent": True})  # someone delivered it
            elif (
                not entry.sent
                and s.consecutive_failures <= spec.max_retries
                and (s.retry_at is None or s.retry_at <= now)
            ):
                out.resend.append(entry)
            kept.append(entry)
            continue
        if status == RunStatus.SUCCEEDED:
            s = s.model_copy(
                update={"consecutive_failures": 0, "retry_at": None, "retry_slot": None}
            )
        elif status == RunStatus.FAILED:
            failures = s.consecutive_failures + 1
            update: dict[str, object] = {
                "failures": s.failures + 1,
                "consecutive_failures": failures,
                "last_error": view.error,
            }
            if failures <= spec.max_retries:
                wait = backoff_s(failures, policy.retry_base_s, cadence.period(now))
                update.update(retry_at=now + timedelta(seconds=wait), retry_slot=entry.slot)
            else:
                update.update(retry_at=None, retry_slot=None)
                out.notes.append(
                    f"schedule {s.id}: run {entry.run_id} failed; {failures - 1} retries "
                    "exhausted, back to the normal cadence"
                )
            s = s.model_copy(update=update)
    if tuple(kept) != s.in_flight:
        s = s.model_copy(update={"in_flight": tuple(kept)})
    out.state = s


def record_fires(state: Schedule, fired: Sequence[tuple[Fire, str]], *, sent: bool) -> Schedule:
    """The state once ``fired`` (each fire with its run id) are stored."""
    if not fired:
        return state
    entries = tuple(
        InFlight(run_id=run_id, slot=f.slot, kind=f.kind, attempt=f.attempt, sent=sent)
        for f, run_id in fired
    )
    newest = max(fired, key=lambda item: item[0].slot)
    return state.model_copy(
        update={
            "in_flight": state.in_flight + entries,
            "last_fire_at": newest[0].slot,
            "last_run_id": fired[-1][1],
            "last_status": RunStatus.QUEUED.value,
        }
    )


def send_failed(
    state: Schedule,
    spec: ScheduleSpec,
    now: datetime,
    policy: Policy,
    error: str,
    *,
    slot: datetime | None = None,
) -> Schedule:
    """A fire failed before its run could start: its task could not be sent (re-sent after
    the backoff; the run is stored, so the sweeper also sends it once the queue is back), or
    — with ``slot`` — its run could not even be created (a new run is tried after the
    backoff)."""
    failures = state.consecutive_failures + 1
    update: dict[str, object] = {
        "failures": state.failures + 1,
        "consecutive_failures": failures,
        "last_error": error,
    }
    if failures <= spec.max_retries:
        period = cadence_of(state, spec, now).period(now)
        update["retry_at"] = now + timedelta(
            seconds=backoff_s(failures, policy.retry_base_s, period)
        )
        if slot is not None:
            update["retry_slot"] = slot
    return state.model_copy(update=update)


def mark_sent(state: Schedule, run_ids: set[str]) -> Schedule:
    if not run_ids:
        return state
    entries = tuple(
        e.model_copy(update={"sent": True}) if e.run_id in run_ids else e for e in state.in_flight
    )
    return state.model_copy(update={"in_flight": entries})
