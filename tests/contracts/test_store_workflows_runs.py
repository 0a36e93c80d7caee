"""Store contract: workflows, drafts, versions and runs — one suite for every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.contracts.storekit import graph, make_run, make_workflow, race
from workspace.domain.ports import Store
from workspace.domain.run import TERMINAL_RUN_STATUSES, Run, RunStatus
from workspace.domain.workflow import Version, Workflow
from workspace.errors import ConflictError, InvalidTransition, NotFoundError, ValidationError

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


def test_latest_version_number_is_cheap_and_exact(store: Store) -> None:
    wf = make_workflow(store)
    with pytest.raises(NotFoundError):
        store.workflows.latest_version_number(wf.id)
    for _ in range(3):
        store.workflows.add_version(Version.of(wf.id, graph("a")))
    assert store.workflows.latest_version_number(wf.id) == 3
    assert store.workflows.get_version(wf.id).number == 3


def test_find_latest_reads_the_workflow_and_its_latest_number(store: Store) -> None:
    assert store.workflows.find_latest("nope") is None
    wf = make_workflow(store)
    found = store.workflows.find_latest(wf.slug)
    assert found is not None and found[0].id == wf.id and found[1] is None
    for _ in range(2):
        store.workflows.add_version(Version.of(wf.id, graph("a")))
    found = store.workflows.find_latest(wf.slug)
    assert found is not None
    assert (found[0], found[1]) == (store.workflows.get(wf.slug), 2)


def test_list_latest_pairs_each_workflow_with_its_latest_number(store: Store) -> None:
    a = make_workflow(store, "aa-latest", owner="ann")
    b = make_workflow(store, "bb-latest", owner="bob")
    for _ in range(3):
        store.workflows.add_version(Version.of(a.id, graph("a")))
    pairs = {wf.slug: n for wf, n in store.workflows.list_latest(limit=1000)}
    assert pairs["aa-latest"] == 3 and pairs["bb-latest"] is None
    assert [(wf.id, n) for wf, n in store.workflows.list_latest(owner="bob")] == [(b.id, None)]
    page = store.workflows.list_latest(limit=1, offset=0)
    assert [wf.id for wf, _ in page] == [store.workflows.list(limit=1)[0].id]
