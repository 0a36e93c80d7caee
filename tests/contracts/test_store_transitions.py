"""Store contract: a run's status change or creation together with its events, in one
transaction (``EventLog.record_transition`` / ``record_created``) — every backend."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.contracts.storekit import event, make_run, make_workflow, race
from workspace.domain.events import Event, EventType
from workspace.domain.ports import Store
from workspace.domain.run import Run, RunStatus, StepRecord, StepStatus
from workspace.errors import ConflictError, InvalidTransition, NotFoundError, ValidationError


def test_record_transition_stores_status_steps_and_events_together(store: Store) -> None:
    run = make_run(store)
    store.runs.transition(run.id, RunStatus.RUNNING)
    store.events.append(event(run, EventType.RUN_STARTED))
    step = StepRecord(run_id=run.id, node_id="a", status=StepStatus.SUCCEEDED, output={"y": 1})
    seen: list[list[Event]] = []
    done, stored = store.events.record_transition(
        run.id,
        RunStatus.SUCCEEDED,
        {"output": {"answer": [1, 2]}, "pending": None},
        [step],
        [event(run, EventType.NODE_SUCCEEDED, node_id="a"), event(run, EventType.RUN_SUCCEEDED)],
        seen.append,
    )
    assert done.status == RunStatus.SUCCEEDED and done.output == {"answer": [1, 2]}
    assert done.finished_at is not None and done.started_at is not None
    assert store.runs.get(run.id) == done
    assert [e.seq for e in stored] == [2, 3]
    assert seen == [stored]
    assert [e.type for e in store.events.list(run.id)] == [
        EventType.RUN_STARTED,
        EventType.NODE_SUCCEEDED,
        EventType.RUN_SUCCEEDED,
    ]
    assert [s.output for s in store.runs.list_steps(run.id)] == [{"y": 1}]


def test_refused_record_transition_stores_nothing(store: Store) -> None:
    run = make_run(store)
    store.runs.transition(run.id, RunStatus.RUNNING)
    store.runs.transition(run.id, RunStatus.CANCELLED)
    before = store.runs.get(run.id)
    step = StepRecord(run_id=run.id, node_id="a", status=StepStatus.SUCCEEDED)
    with pytest.raises(InvalidTransition):
        store.events.record_transition(
            run.id, RunStatus.SUCCEEDED, {"output": 1}, [step], [event(run, EventType.RUN_FAILED)]
        )
    assert store.runs.get(run.id) == before
    assert store.events.list(run.id) == []
    assert store.runs.list_steps(run.id) == []
    assert store.runs.get(run.id) == before
    queued = make_run(store)
    with pytest.raises(ValidationError):  # a bad field value: nothing changes either
        store.events.record_transition(queued.id, RunStatus.RUNNING, {"version_number": "x"})
    assert store.runs.get(queued.id) == queued
    with pytest.raises(NotFoundError):
        store.events.record_transition("missing", RunStatus.RUNNING, {})


def test_record_transition_keeps_the_fields_rules_of_transition(store: Store) -> None:
    run = make_run(store)
    t0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    running, events = store.events.record_transition(run.id, RunStatus.RUNNING, {"started_at": t0})
    assert events == [] and running.started_at == t0 and running.finished_at is None
    waiting, _ = store.events.record_transition(
        run.id, RunStatus.WAITING, {"pending": {"requests": [{"key": "k"}]}}
    )
    assert waiting.pending == {"requests": [{"key": "k"}]} and waiting.started_at == t0
    failed, _ = store.events.record_transition(
        run.id, RunStatus.FAILED, {"error": {"code": "x"}, "pending": None}
    )
    assert failed.finished_at is not None and failed.pending is None
    assert store.runs.get(run.id) == failed
    with pytest.raises(ValidationError):
        store.events.record_transition(
            make_run(store).id, RunStatus.CANCELLED, {"status": "cancelled"}
        )


def test_racing_record_transitions_exactly_one_wins(store: Store) -> None:
    for _ in range(4):
        run = make_run(store)
        store.runs.transition(run.id, RunStatus.RUNNING)
        ends = race(
            lambda r=run: store.events.record_transition(
                r.id, RunStatus.SUCCEEDED, {"output": "ok"}, (), [event(r, EventType.RUN_SUCCEEDED)]
            ),
            lambda r=run: store.events.record_transition(
                r.id,
                RunStatus.FAILED,
                {"error": {"code": "x"}},
                (),
                [event(r, EventType.RUN_FAILED)],
            ),
        )
        winners = [e[0] for e in ends if isinstance(e, tuple)]
        assert len(winners) == 1, ends
        assert sum(isinstance(e, InvalidTransition) for e in ends) == 1, ends
        logged = store.events.list(run.id)
        assert len(logged) == 1 and logged[0].seq == 1
        assert store.runs.get(run.id).status == winners[0].status


def test_record_created_stores_the_run_with_its_events(store: Store) -> None:
    wf = make_workflow(store)
    run = Run(
        workflow_id=wf.id,
        workflow_slug=wf.slug,
        version_number=1,
        version_hash="sha256:abc",
        trigger_id="manual",
        input={"payload": (1, 2)},
        user="ann",
    )
    seen: list[list[Event]] = []
    created, stored = store.events.record_created(
        run, [event(run, EventType.RUN_QUEUED, data={"trigger": "manual"})], seen.append
    )
    assert created.input == {"payload": [1, 2]} and created.status == RunStatus.QUEUED
    assert store.runs.get(run.id) == created
    assert [(e.seq, e.type, e.data) for e in stored] == [
        (1, EventType.RUN_QUEUED, {"trigger": "manual"})
    ]
    assert seen == [stored] and store.events.list(run.id) == stored
    assert [e.seq for e in store.events.append_many([event(run), event(run)])] == [2, 3]
    with pytest.raises(ConflictError):
        store.events.record_created(run, [])
    assert len(store.events.list(run.id)) == 3


def test_record_created_with_an_event_that_cannot_be_stored_stores_nothing(store: Store) -> None:
    wf = make_workflow(store)
    run = Run(
        workflow_id=wf.id,
        workflow_slug=wf.slug,
        version_number=1,
        version_hash="sha256:abc",
        trigger_id="manual",
    )
    with pytest.raises(ValidationError):
        store.events.record_created(run, [event(run, EventType.RUN_QUEUED, data={"x": object()})])
    with pytest.raises(NotFoundError):
        store.runs.get(run.id)


def test_record_transition_creates_runs_in_the_same_transaction(store: Store) -> None:
    """A failed run and the runs its error triggers start: stored together or not at all."""
    wf = make_workflow(store)
    run = make_run(store, wf)
    store.runs.transition(run.id, RunStatus.RUNNING)
    child = Run(
        workflow_id=wf.id,
        workflow_slug=wf.slug,
        version_number=1,
        version_hash="sha256:abc",
        trigger_id="on_error",
        input={"run_id": run.id},
    )
    seen: list[list[Event]] = []
    failed, stored = store.events.record_transition(
        run.id,
        RunStatus.FAILED,
        {"error": {"code": "boom"}},
        [],
        [event(run, EventType.RUN_FAILED), event(child, EventType.RUN_QUEUED)],
        seen.append,
        created=[child],
    )
    assert failed.status == RunStatus.FAILED
    assert [(e.run_id, e.seq) for e in stored] == [(run.id, 1), (child.id, 1)]
    got = store.runs.get(child.id)
    assert got.status == RunStatus.QUEUED and got.input == {"run_id": run.id}
    assert [e.type for e in store.events.list(child.id)] == [EventType.RUN_QUEUED]

    # refused (already final): the new run is not stored either
    again = child.model_copy(update={"id": "other-child"})
    with pytest.raises(InvalidTransition):
        store.events.record_transition(
            run.id, RunStatus.FAILED, {}, [], [event(again, EventType.RUN_QUEUED)], created=[again]
        )
    with pytest.raises(NotFoundError):
        store.runs.get("other-child")

    # a created run that exists already: nothing is stored, the transition neither
    second = make_run(store, wf)
    store.runs.transition(second.id, RunStatus.RUNNING)
    with pytest.raises(ConflictError):
        store.events.record_transition(
            second.id,
            RunStatus.FAILED,
            {},
            [],
            [event(second, EventType.RUN_FAILED)],
            created=[child],
        )
    assert store.runs.get(second.id).status == RunStatus.RUNNING
    assert store.events.list(second.id) == []
