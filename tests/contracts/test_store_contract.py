"""One contract for every ``Store``: in memory, SQLite and PostgreSQL behave the same."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.store.dbs import fresh_sqlite_url
from workspace.domain.events import Event, EventType
from workspace.domain.graph import Edge, Node, WorkflowGraph
from workspace.domain.ports import Store
from workspace.domain.run import TERMINAL_RUN_STATUSES, Run, RunStatus, StepRecord, StepStatus
from workspace.domain.workflow import Version, Workflow, new_id
from workspace.errors import ConflictError, InvalidTransition, NotFoundError, ValidationError
from workspace.store import MemoryStore, open_store
from workspace.store.testing import clear_tables

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "sqlite":
        url = fresh_sqlite_url(request.getfixturevalue("sqlite_template"), tmp_path)
        sql = open_store(url)
    else:
        sql = open_store(request.getfixturevalue("postgres_url"))
        clear_tables(sql.engine)
    try:
        yield sql
    finally:
        sql.close()


# --- helpers ----------------------------------------------------------------------------------


def graph(*node_ids: str) -> WorkflowGraph:
    nodes = tuple(Node(id=n, type="noop", config={"n": n, "list": [1, 2]}) for n in node_ids)
    edges = tuple(Edge(source=a, target=b) for a, b in itertools.pairwise(node_ids))
    return WorkflowGraph(nodes=nodes, edges=edges, settings={"durability": "sync"})


def make_workflow(store: Store, slug: str | None = None, **kw: Any) -> Workflow:
    slug = slug or f"wf-{new_id()[:10]}"
    return store.workflows.create(Workflow(slug=slug, name=kw.pop("name", slug.title()), **kw))


def make_run(store: Store, workflow: Workflow | None = None, **kw: Any) -> Run:
    wf = workflow or make_workflow(store)
    return store.runs.create(
        Run(
            workflow_id=wf.id,
            workflow_slug=wf.slug,
            version_number=1,
            version_hash="sha256:abc",
            trigger_id="manual",
            **kw,
        )
    )


def event(run: Run, type_: EventType = EventType.NODE_STARTED, **kw: Any) -> Event:
    return Event(run_id=run.id, workflow=run.workflow_slug, version=1, type=type_, **kw)


def race(*actions: Callable[[], Any]) -> list[Any]:
    """Run the actions at the same moment in threads; return each result or exception."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def target(i: int, action: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = action()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=target, args=(i, a)) for i, a in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


# --- workflows --------------------------------------------------------------------------------


def test_workflow_crud(store: Store) -> None:
    created = make_workflow(store, "crud-one", description="d", tags=("x", "y"), owner="ann")
    assert store.workflows.get("crud-one") == created
    assert store.workflows.get_by_id(created.id) == created
    assert store.workflows.find("crud-one") == created
    assert store.workflows.find("missing") is None
    with pytest.raises(NotFoundError):
        store.workflows.get("missing")
    with pytest.raises(NotFoundError):
        store.workflows.get_by_id("missing")

    changed = created.model_copy(
        update={"name": "Renamed", "description": "new", "tags": ("z",), "owner": "bob"}
    )
    updated = store.workflows.update(changed)
    assert (updated.name, updated.description, updated.tags, updated.owner) == (
        "Renamed",
        "new",
        ("z",),
        "bob",
    )
    assert updated.slug == "crud-one" and updated.created_at == created.created_at
    assert updated.updated_at >= created.updated_at
    assert store.workflows.get("crud-one") == updated
    with pytest.raises(NotFoundError):
        store.workflows.update(Workflow(slug="ghost", name="Ghost"))

    store.workflows.save_draft(created.id, graph("a"))
    store.workflows.add_version(Version.of(created.id, graph("a")))
    store.workflows.delete("crud-one")
    assert store.workflows.find("crud-one") is None
    assert store.workflows.get_draft(created.id) is None
    assert store.workflows.list_versions(created.id) == []
    with pytest.raises(NotFoundError):
        store.workflows.delete("crud-one")


def test_duplicate_slug_is_a_conflict(store: Store) -> None:
    make_workflow(store, "dup")
    with pytest.raises(ConflictError) as info:
        make_workflow(store, "dup")
    assert "dup" in str(info.value)
    assert len(store.workflows.list()) == 1


def test_list_is_ordered_by_slug_with_owner_filter_and_paging(store: Store) -> None:
    slugs = ["b-x", "ab", "a-b", "a", "a0", "zz"]
    for i, slug in enumerate(slugs):
        make_workflow(store, slug, owner="ann" if i % 2 == 0 else "bob")
    assert [w.slug for w in store.workflows.list()] == sorted(slugs)
    assert [w.slug for w in store.workflows.list(owner="ann")] == sorted(["b-x", "a-b", "a0"])
    assert [w.slug for w in store.workflows.list(limit=2, offset=1)] == sorted(slugs)[1:3]
    assert store.workflows.list(owner="nobody") == []


def test_draft_is_replaced(store: Store) -> None:
    wf = make_workflow(store)
    assert store.workflows.get_draft(wf.id) is None
    first = store.workflows.save_draft(wf.id, graph("a"), "dsl: 1")
    assert store.workflows.get_draft(wf.id) == first
    second = store.workflows.save_draft(wf.id, graph("a", "b"), None)
    got = store.workflows.get_draft(wf.id)
    assert got == second
    assert got is not None and got.graph == graph("a", "b") and got.dsl is None
    with pytest.raises(NotFoundError):
        store.workflows.save_draft("no-such-id", graph("a"))


def test_versions_are_numbered_and_latest_is_found(store: Store) -> None:
    wf = make_workflow(store)
    with pytest.raises(NotFoundError):
        store.workflows.get_version(wf.id)
    graphs = [graph("a"), graph("a", "b"), graph("a", "b", "c")]
    stored = [
        store.workflows.add_version(
            Version.of(wf.id, g, dsl=f"v{i}", author="ann", message=f"m{i}")
        )
        for i, g in enumerate(graphs)
    ]
    assert [v.number for v in stored] == [1, 2, 3]
    assert store.workflows.get_version(wf.id) == stored[2]
    assert store.workflows.get_version(wf.id, 2) == stored[1]
    assert store.workflows.list_versions(wf.id) == stored
    v2 = store.workflows.get_version(wf.id, 2)
    assert v2.graph == graphs[1] and v2.content_hash == graphs[1].content_hash()
    assert (v2.dsl, v2.author, v2.message) == ("v1", "ann", "m1")
    with pytest.raises(NotFoundError):
        store.workflows.get_version(wf.id, 4)
    with pytest.raises(NotFoundError):
        store.workflows.add_version(Version.of("no-such-id", graph("a")))
    other = make_workflow(store)
    assert store.workflows.add_version(Version.of(other.id, graph("a"))).number == 1


def test_concurrent_publishers_get_distinct_numbers(store: Store) -> None:
    wf = make_workflow(store)
    results = race(*[lambda: store.workflows.add_version(Version.of(wf.id, graph("a")))] * 6)
    assert all(isinstance(r, Version) for r in results), results
    assert sorted(r.number for r in results) == [1, 2, 3, 4, 5, 6]
    assert [v.number for v in store.workflows.list_versions(wf.id)] == [1, 2, 3, 4, 5, 6]


# --- runs -------------------------------------------------------------------------------------


def test_run_create_and_get(store: Store) -> None:
    run = make_run(store, input={"q": "hi"}, thread_id="t1", user="ann")
    got = store.runs.get(run.id)
    assert got == run
    assert got.status == RunStatus.QUEUED and got.input == {"q": "hi"}
    with pytest.raises(ConflictError):
        store.runs.create(run)
    with pytest.raises(NotFoundError):
        store.runs.get("missing")


def test_run_list_filters_and_newest_first(store: Store) -> None:
    wf_a, wf_b = make_workflow(store), make_workflow(store)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    parent = make_run(store, wf_a, created_at=t0)
    child1 = make_run(store, wf_a, created_at=t0 + timedelta(seconds=2), parent_run_id=parent.id)
    child2 = make_run(store, wf_b, created_at=t0 + timedelta(seconds=1), parent_run_id=parent.id)
    store.runs.transition(child2.id, RunStatus.RUNNING)

    assert [r.id for r in store.runs.list()] == [child1.id, child2.id, parent.id]
    assert [r.id for r in store.runs.list(workflow_id=wf_a.id)] == [child1.id, parent.id]
    assert [r.id for r in store.runs.list(status=RunStatus.RUNNING)] == [child2.id]
    assert [r.id for r in store.runs.list(parent_run_id=parent.id)] == [child1.id, child2.id]
    assert [r.id for r in store.runs.list(workflow_id=wf_a.id, status=RunStatus.QUEUED)] == [
        child1.id,
        parent.id,
    ]
    assert [r.id for r in store.runs.list(limit=1, offset=1)] == [child2.id]
    assert store.runs.list(status=RunStatus.SUCCEEDED) == []


def test_transition_follows_the_state_machine_and_sets_fields(store: Store) -> None:
    run = make_run(store)
    running = store.runs.transition(run.id, RunStatus.RUNNING)
    assert running.status == RunStatus.RUNNING and running.started_at is not None
    waiting = store.runs.transition(run.id, RunStatus.WAITING, pending={"prompt": "ok?"})
    assert waiting.pending == {"prompt": "ok?"}
    store.runs.transition(run.id, RunStatus.RUNNING, pending=None)
    done = store.runs.transition(run.id, RunStatus.SUCCEEDED, output={"answer": [1, 2]})
    assert done.status == RunStatus.SUCCEEDED and done.finished_at is not None
    assert done.started_at == running.started_at
    assert store.runs.get(run.id) == done
    assert done.output == {"answer": [1, 2]} and done.pending is None


def test_invalid_transition_is_refused_and_changes_nothing(store: Store) -> None:
    run = make_run(store)
    with pytest.raises(InvalidTransition):
        store.runs.transition(run.id, RunStatus.SUCCEEDED, output="x")
    assert store.runs.get(run.id) == run
    with pytest.raises(NotFoundError):
        store.runs.transition("missing", RunStatus.RUNNING)


@pytest.mark.parametrize("final", sorted(TERMINAL_RUN_STATUSES))
def test_terminal_states_are_final(store: Store, final: RunStatus) -> None:
    run = make_run(store)
    store.runs.transition(run.id, RunStatus.RUNNING)
    ended = store.runs.transition(
        run.id, final, error={"code": "x"} if final != "succeeded" else None
    )
    for target in RunStatus:
        with pytest.raises(InvalidTransition):
            store.runs.transition(run.id, target)
    assert store.runs.get(run.id) == ended


def test_update_sets_fields_but_never_status(store: Store) -> None:
    run = make_run(store)
    updated = store.runs.update(run.id, pending={"token_hash": "h"}, thread_id="t9")
    assert updated.pending == {"token_hash": "h"} and updated.thread_id == "t9"
    assert store.runs.get(run.id) == updated
    with pytest.raises(ValidationError):
        store.runs.update(run.id, status=RunStatus.RUNNING)
    with pytest.raises(ValidationError):
        store.runs.update(run.id, no_such_field=1)
    with pytest.raises(ValidationError):
        store.runs.transition(run.id, RunStatus.RUNNING, version_number="not a number")
    assert store.runs.get(run.id).status == RunStatus.QUEUED
    with pytest.raises(NotFoundError):
        store.runs.update("missing", pending=None)


@pytest.mark.parametrize("rounds", [8])
def test_racing_transitions_exactly_one_wins(store: Store, rounds: int) -> None:
    for _ in range(rounds):
        run = make_run(store)
        # two workers claim the same queued run
        claims = race(
            lambda r=run: store.runs.transition(r.id, RunStatus.RUNNING),
            lambda r=run: store.runs.transition(r.id, RunStatus.RUNNING),
        )
        assert sum(isinstance(c, Run) for c in claims) == 1, claims
        assert sum(isinstance(c, InvalidTransition) for c in claims) == 1, claims
        # two writers try to finish it differently
        ends = race(
            lambda r=run: store.runs.transition(r.id, RunStatus.SUCCEEDED, output="ok"),
            lambda r=run: store.runs.transition(r.id, RunStatus.FAILED, error={"code": "boom"}),
        )
        winners = [e for e in ends if isinstance(e, Run)]
        assert len(winners) == 1, ends
        assert sum(isinstance(e, InvalidTransition) for e in ends) == 1, ends
        final = store.runs.get(run.id)
        assert final.status == winners[0].status
        assert (final.output, final.error) == (winners[0].output, winners[0].error)


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
