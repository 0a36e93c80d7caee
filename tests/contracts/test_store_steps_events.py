"""Store contract: steps, journal, events and stored values — one suite for every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.contracts.storekit import event, make_run, make_workflow, race
from workspace.domain.events import Event, EventType
from workspace.domain.ports import Store
from workspace.domain.run import RunStatus, StepRecord, StepStatus
from workspace.domain.usage import Usage
from workspace.domain.workflow import Workflow, utcnow
from workspace.errors import NotFoundError, ValidationError

# --- steps and journal ------------------------------------------------------------------------


def test_steps_upsert_by_node_and_iteration_in_first_started_order(store: Store) -> None:
    run = make_run(store)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    store.runs.save_step(
        StepRecord(run_id=run.id, node_id="a", status=StepStatus.RUNNING, started_at=t0)
    )
    store.runs.save_step(StepRecord(run_id=run.id, node_id="b", status=StepStatus.RUNNING))
    store.runs.save_step(
        StepRecord(run_id=run.id, node_id="body", iteration="0", status=StepStatus.SUCCEEDED)
    )
    store.runs.save_step(
        StepRecord(run_id=run.id, node_id="body", iteration="1", status=StepStatus.RUNNING)
    )
    final_a = store.runs.save_step(
        StepRecord(
            run_id=run.id,
            node_id="a",
            status=StepStatus.SUCCEEDED,
            attempt=2,
            input={"x": 1},
            output={"y": [1, 2]},
            route="yes",
            started_at=t0,
            finished_at=t0 + timedelta(seconds=1),
            tokens=12,
            cost=0.25,
        )
    )
    steps = store.runs.list_steps(run.id)
    assert [(s.node_id, s.iteration) for s in steps] == [
        ("a", ""),
        ("b", ""),
        ("body", "0"),
        ("body", "1"),
    ]
    assert steps[0] == final_a
    assert steps[0].status == StepStatus.SUCCEEDED and steps[0].attempt == 2
    assert store.runs.list_steps("missing") == []
    with pytest.raises(NotFoundError):
        store.runs.save_step(StepRecord(run_id="missing", node_id="a", status=StepStatus.PENDING))


def test_journal_first_write_wins(store: Store) -> None:
    run = make_run(store)
    assert store.runs.journal_get(run.id, "k") is None
    store.runs.journal_put(run.id, "k", {"sent": [1, 2]})
    store.runs.journal_put(run.id, "k", {"sent": "again"})
    assert store.runs.journal_get(run.id, "k") == {"sent": [1, 2]}
    store.runs.journal_put(run.id, f"{run.id}:node:0", "other")
    assert store.runs.journal_get(run.id, f"{run.id}:node:0") == "other"
    other = make_run(store)
    assert store.runs.journal_get(other.id, "k") is None
    with pytest.raises(NotFoundError):
        store.runs.journal_put("missing", "k", 1)


def test_concurrent_journal_writers_agree_on_one_value(store: Store) -> None:
    run = make_run(store)
    race(*[lambda i=i: store.runs.journal_put(run.id, "once", i) for i in range(6)])
    value = store.runs.journal_get(run.id, "once")
    assert value in range(6)
    store.runs.journal_put(run.id, "once", 99)
    assert store.runs.journal_get(run.id, "once") == value


# --- events -----------------------------------------------------------------------------------


def test_event_seq_is_gap_free_per_run(store: Store) -> None:
    run, other = make_run(store), make_run(store)
    first = store.events.append(event(run, EventType.RUN_STARTED))
    store.events.append(event(other, EventType.RUN_STARTED))
    second = store.events.append(event(run, node_id="a", data={"k": [1, {"z": None}]}))
    third = store.events.append(event(run, EventType.RUN_SUCCEEDED, seq=77))
    assert (first.seq, second.seq, third.seq) == (1, 2, 3)
    listed = store.events.list(run.id)
    assert listed == [first, second, third]
    assert listed[1].node_id == "a" and listed[1].data == {"k": [1, {"z": None}]}
    assert [e.seq for e in store.events.list(run.id, after=1)] == [2, 3]
    assert [e.seq for e in store.events.list(run.id, after=1, limit=1)] == [2]
    assert store.events.list(run.id, after=3) == []
    assert [e.seq for e in store.events.list(other.id)] == [1]
    assert store.events.list("missing") == []
    with pytest.raises(NotFoundError):
        store.events.append(Event(run_id="missing", workflow="w", version=1, type="run_queued"))


def test_concurrent_appends_stay_gap_free(store: Store) -> None:
    run = make_run(store)
    threads, per_thread = 8, 25

    def worker(i: int) -> list[int]:
        return [
            store.events.append(event(run, data={"thread": i, "n": n})).seq
            for n in range(per_thread)
        ]

    results = race(*[lambda i=i: worker(i) for i in range(threads)])
    assert all(isinstance(r, list) for r in results), results
    seqs = sorted(s for r in results for s in r)
    assert seqs == list(range(1, threads * per_thread + 1))
    logged = store.events.list(run.id, limit=10_000)
    assert [e.seq for e in logged] == seqs
    for i in range(threads):  # each thread's events are in its own order
        mine = [e.data["n"] for e in logged if e.data["thread"] == i]
        assert mine == list(range(per_thread))


def test_append_many_is_atomic_and_numbers_per_run(store: Store) -> None:
    run, other = make_run(store), make_run(store)
    store.events.append(event(run, EventType.RUN_STARTED))
    append_many = store.events.append_many  # type: ignore[attr-defined]
    stored = append_many([event(run), event(other), event(run, node_id="b")])
    assert [(e.run_id, e.seq) for e in stored] == [(run.id, 2), (other.id, 1), (run.id, 3)]
    assert store.events.list(run.id)[1:] == [stored[0], stored[2]]
    with pytest.raises(NotFoundError):
        append_many([event(run), event(run).model_copy(update={"run_id": "missing"})])
    assert [e.seq for e in store.events.list(run.id)] == [1, 2, 3]
    assert append_many([]) == []
    assert store.events.append(event(run)).seq == 4


# --- values -----------------------------------------------------------------------------------

TYPED = {
    "list": [1, 2.5, "three", None, True, False],
    "nested": {"a": {"b": [{"c": "d"}, [1, [2, [3]]]]}},
    "unicode": "héllo wörld — 你好 🌍 \u2028 \\ \" '",
    "empty": {"list": [], "dict": {}, "str": ""},
    "numbers": [0, -1, 2**53, 1e-9, 3.141592653589793],
}


def test_json_values_round_trip_with_their_types(store: Store) -> None:
    run = make_run(store, input=TYPED)
    assert store.runs.get(run.id).input == TYPED
    assert isinstance(store.runs.get(run.id).input["list"], list)
    store.runs.transition(run.id, RunStatus.RUNNING)
    done = store.runs.transition(run.id, RunStatus.FAILED, output=TYPED, error={"why": TYPED})
    again = store.runs.get(run.id)
    assert again.output == TYPED and again.error == {"why": TYPED} and done == again

    step = store.runs.save_step(
        StepRecord(run_id=run.id, node_id="n", status=StepStatus.SUCCEEDED, output=TYPED)
    )
    assert store.runs.list_steps(run.id)[0].output == TYPED == step.output
    store.runs.journal_put(run.id, "j", TYPED)
    assert store.runs.journal_get(run.id, "j") == TYPED
    store.events.append(event(run, data=TYPED))
    assert store.events.list(run.id)[0].data == TYPED


def test_tuples_become_lists_and_stored_values_are_copies(store: Store) -> None:
    value: dict[str, Any] = {"t": (1, (2, 3)), "l": [1]}
    run = make_run(store, input=value)
    assert store.runs.get(run.id).input == {"t": [1, [2, 3]], "l": [1]}
    value["l"].append(2)  # mutating the caller's object changes nothing stored
    got = store.runs.get(run.id)
    assert got.input == {"t": [1, [2, 3]], "l": [1]}
    got.input["l"].append(3)  # nor does mutating what was read
    assert store.runs.get(run.id).input["l"] == [1]
    store.runs.journal_put(run.id, "k", (1, 2))
    assert store.runs.journal_get(run.id, "k") == [1, 2]


def test_values_that_are_not_json_are_refused(store: Store) -> None:
    with pytest.raises(ValidationError):
        make_run(store, input={"x": object()})
    run = make_run(store)
    with pytest.raises(ValidationError):
        store.runs.journal_put(run.id, "k", float("nan"))
    assert store.runs.journal_get(run.id, "k") is None


def test_datetimes_come_back_timezone_aware_utc(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 3, 1, 14, 30, 15, 123456, tzinfo=plus_two)
    naive = datetime(2026, 3, 1, 9, 0, 0)
    wf = store.workflows.create(Workflow(slug="times", name="T", created_at=local))
    got = store.workflows.get("times")
    assert got.created_at == local and got.created_at.utcoffset() == timedelta(0)
    assert got.created_at.hour == 12 and got.created_at.microsecond == 123456
    assert got == wf

    run = make_run(store, created_at=naive, started_at=local)
    read = store.runs.get(run.id)
    assert read.created_at == naive.replace(tzinfo=UTC)
    assert read.started_at == local and read.started_at is not None
    assert read.started_at.tzinfo is not None and read.started_at.utcoffset() == timedelta(0)

    ev = store.events.append(event(run, ts=local))
    assert store.events.list(run.id)[0].ts == local == ev.ts
    for value in (
        store.workflows.get_by_id(wf.id).updated_at,
        store.runs.transition(run.id, RunStatus.RUNNING).created_at,
        store.events.list(run.id)[0].ts,
    ):
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0)


def test_record_stores_steps_and_events_together(store: Store) -> None:
    run = make_run(store)
    started = StepRecord(run_id=run.id, node_id="a", status=StepStatus.RUNNING, input={"x": 1})
    done = started.model_copy(update={"status": StepStatus.SUCCEEDED, "output": {"y": [1, 2]}})
    other = StepRecord(run_id=run.id, node_id="b", status=StepStatus.SKIPPED)
    stored = store.events.record(
        [done, other], [event(run, EventType.NODE_STARTED), event(run, EventType.NODE_SUCCEEDED)]
    )
    assert [e.seq for e in stored] == [1, 2]
    steps = {s.node_id: s for s in store.runs.list_steps(run.id)}
    assert steps["a"].status == StepStatus.SUCCEEDED and steps["a"].output == {"y": [1, 2]}
    assert steps["b"].status == StepStatus.SKIPPED
    assert [e.seq for e in store.events.list(run.id)] == [1, 2]
    assert store.events.record([], []) == []


def test_record_for_an_unknown_run_stores_nothing(store: Store) -> None:
    run = make_run(store)
    ghost = StepRecord(run_id="no-such-run", node_id="a", status=StepStatus.RUNNING)
    with pytest.raises(NotFoundError):
        store.events.record([ghost], [event(run, EventType.NODE_STARTED)])
    assert store.events.list(run.id) == []


def test_usage_sums_tokens_and_known_costs(store: Store) -> None:
    wf = make_workflow(store)
    a, b = make_run(store, wf), make_run(store, wf)
    other = make_run(store)

    def step(run_id: str, node: str, tokens: int | None, cost: float | None) -> None:
        store.runs.save_step(
            StepRecord(
                run_id=run_id, node_id=node, status=StepStatus.SUCCEEDED, tokens=tokens, cost=cost
            )
        )

    step(a.id, "x", 100, 0.5)
    step(a.id, "y", 50, None)  # a model without a known price
    step(a.id, "z", None, None)  # no LLM
    step(b.id, "x", 10, 0.25)
    step(other.id, "x", 1000, 9.0)
    assert store.runs.usage(run_ids=[a.id]) == Usage(150, 0.5, 1)
    assert store.runs.usage(run_ids=[a.id, b.id]) == Usage(160, 0.75, 1)
    assert store.runs.usage(run_ids=[]) == Usage()
    assert store.runs.usage(workflow_id=a.workflow_id) == Usage(160, 0.75, 1)
    assert (
        store.runs.usage(workflow_id=a.workflow_id, since=utcnow() + timedelta(hours=1)) == Usage()
    )
    assert store.runs.usage(run_ids=[a.id]).to_dict() == {
        "tokens": 150,
        "cost_usd": None,
        "known_cost_usd": 0.5,
        "unpriced_steps": 1,
    }
