"""Contract of ``MemoryRepository`` (agent memory: facts, episodes, search, identities) and of
draft authors, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC

import pytest

from tests.contracts.storekit import graph, make_workflow, race
from workspace.domain.memory import (
    Identity,
    MemoryAddress,
    MemoryItem,
    MemoryKind,
    MemoryScope,
    search_terms,
)
from workspace.domain.ports import Store
from workspace.errors import ValidationError

ALICE = MemoryAddress("owner-a", MemoryScope.USER, "alice")
BOB = MemoryAddress("owner-a", MemoryScope.USER, "bob")
OTHER_OWNER = MemoryAddress("owner-b", MemoryScope.USER, "alice")
WORKFLOW = MemoryAddress("owner-a", MemoryScope.WORKFLOW, "wf1")


def fact(address: MemoryAddress, key: str, value: object, **kw: object) -> MemoryItem:
    return MemoryItem(
        space=address.space,
        scope=address.scope,
        scope_key=address.scope_key,
        key=key,
        value=value,
        **kw,  # type: ignore[arg-type]
    )


def episode(address: MemoryAddress, text: str, **kw: object) -> MemoryItem:
    return MemoryItem(
        space=address.space,
        scope=address.scope,
        scope_key=address.scope_key,
        kind=MemoryKind.EPISODE,
        value=text,
        **kw,  # type: ignore[arg-type]
    )


def test_a_fact_is_replaced_by_key_keeping_its_identity(store: Store) -> None:
    first = store.memory.put(fact(ALICE, "city", "Paris", source_run="r1"))
    assert first.content == "Paris" and first.kind == MemoryKind.FACT
    assert first.created_at.tzinfo is not None and first.created_at.utcoffset() == UTC.utcoffset(
        None
    )
    time.sleep(0.01)
    second = store.memory.put(fact(ALICE, "city", {"name": "Lyon", "since": 2020}))
    assert second.id == first.id
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at
    got = store.memory.get(ALICE, "city")
    assert got is not None
    assert got.value == {"name": "Lyon", "since": 2020}
    assert got.content == '{"name": "Lyon", "since": 2020}'
    assert got.id == first.id
    assert [i.key for i in store.memory.list(ALICE)] == ["city"]


def test_episodes_accumulate_newest_first_and_kinds_filter(store: Store) -> None:
    store.memory.put(episode(ALICE, "asked about invoices"))
    time.sleep(0.01)
    store.memory.put(episode(ALICE, "asked about invoices"))
    time.sleep(0.01)
    store.memory.put(fact(ALICE, "plan", "pro"))
    items = store.memory.list(ALICE)
    assert [i.kind for i in items] == [MemoryKind.FACT, MemoryKind.EPISODE, MemoryKind.EPISODE]
    assert len({i.id for i in items}) == 3
    assert len(store.memory.list(ALICE, kind=MemoryKind.EPISODE)) == 2
    assert [i.key for i in store.memory.list(ALICE, kind=MemoryKind.FACT)] == ["plan"]
    assert len(store.memory.list(ALICE, limit=1, offset=1)) == 1


def test_addresses_are_isolated(store: Store) -> None:
    store.memory.put(fact(ALICE, "secret", "alice's"))
    store.memory.put(fact(BOB, "secret", "bob's"))
    store.memory.put(fact(OTHER_OWNER, "secret", "other owner's"))
    store.memory.put(fact(WORKFLOW, "secret", "the workflow's"))
    assert store.memory.get(ALICE, "secret").value == "alice's"  # type: ignore[union-attr]
    assert store.memory.get(BOB, "secret").value == "bob's"  # type: ignore[union-attr]
    assert store.memory.get(OTHER_OWNER, "secret").value == "other owner's"  # type: ignore[union-attr]
    assert store.memory.get(MemoryAddress("owner-a", MemoryScope.USER, "carol"), "secret") is None
    found = store.memory.search([ALICE], ["secret"])
    assert [i.value for i, _ in found] == ["alice's"]
    both = store.memory.search([ALICE, WORKFLOW], ["secret"])
    assert sorted(i.value for i, _ in both) == ["alice's", "the workflow's"]
    assert store.memory.search([], ["secret"]) == []


def test_keyword_search_ranks_by_terms_then_recency(store: Store) -> None:
    store.memory.put(fact(ALICE, "favourite_color", "blue"))
    time.sleep(0.01)
    store.memory.put(episode(ALICE, "Alice said her favourite food is ramen"))
    time.sleep(0.01)
    store.memory.put(episode(ALICE, "the weather was nice", tags=("food",)))
    store.memory.put(episode(ALICE, "nothing relevant here"))
    terms = search_terms("What is my favourite food?")
    assert terms == ["favourite", "food"]
    found = store.memory.search([ALICE], terms, limit=10)
    contents = [i.content for i, _ in found]
    assert contents[0] == "Alice said her favourite food is ramen"  # both terms
    assert set(contents[1:]) == {"blue", "the weather was nice"}
    assert contents[1] == "blue"  # one term, in the key (counts double)
    scores = [s for _, s in found]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] <= scores[0] <= 1
    assert "nothing relevant here" not in contents
    assert len(store.memory.search([ALICE], terms, limit=1)) == 1
    assert store.memory.search([ALICE], terms, kind=MemoryKind.FACT)[0][0].key == (
        "favourite_color"
    )


def test_search_terms_are_not_wildcards(store: Store) -> None:
    store.memory.put(episode(ALICE, "axb and 100 percent"))
    store.memory.put(episode(ALICE, "a_b literally"))
    assert [i.content for i, _ in store.memory.search([ALICE], ["a_b"])] == ["a_b literally"]
    assert store.memory.search([ALICE], ["%"]) == []


def test_similar_orders_by_cosine_among_items_with_vectors(store: Store) -> None:
    store.memory.put(episode(ALICE, "north", embedding=(1.0, 0.0)))
    store.memory.put(episode(ALICE, "north-east", embedding=(0.7, 0.7)))
    store.memory.put(episode(ALICE, "east", embedding=(0.0, 1.0)))
    store.memory.put(episode(ALICE, "no vector"))
    store.memory.put(episode(BOB, "bob north", embedding=(1.0, 0.0)))
    found = store.memory.similar([ALICE], [1.0, 0.1])
    assert [i.content for i, _ in found] == ["north", "north-east", "east"]
    assert found[0][1] > found[1][1] > found[2][1]
    assert found[0][0].embedding == (1.0, 0.0)


def test_forget_and_clear(store: Store) -> None:
    store.memory.put(fact(ALICE, "a", 1))
    store.memory.put(fact(ALICE, "b", 2))
    store.memory.put(episode(ALICE, "x"))
    store.memory.put(fact(BOB, "a", 1))
    assert store.memory.forget(ALICE, "a") is True
    assert store.memory.forget(ALICE, "a") is False
    assert store.memory.get(ALICE, "a") is None
    assert store.memory.clear(ALICE) == 2
    assert store.memory.list(ALICE) == []
    assert store.memory.get(BOB, "a") is not None


def test_values_are_json_copies(store: Store) -> None:
    value = {"list": (1, 2), "n": 1.5}
    stored = store.memory.put(fact(ALICE, "v", value))
    assert stored.value == {"list": [1, 2], "n": 1.5}
    stored.value["n"] = 99
    assert store.memory.get(ALICE, "v").value["n"] == 1.5  # type: ignore[union-attr]
    with pytest.raises(ValidationError):
        store.memory.put(fact(ALICE, "bad", object()))
    with pytest.raises(ValidationError):
        store.memory.put(fact(ALICE, "nan", float("nan")))
    assert store.memory.get(ALICE, "bad") is None


def test_concurrent_writes_of_one_key_keep_one_fact(store: Store) -> None:
    results = race(*(lambda i=i: store.memory.put(fact(ALICE, "k", i)) for i in range(4)))
    assert not [r for r in results if isinstance(r, Exception)], results
    items = store.memory.list(ALICE)
    assert len(items) == 1 and items[0].value in range(4)


def test_identities_link_channels_to_users_per_space(store: Store) -> None:
    first = store.memory.link(Identity(space="owner-a", channel="telegram", external_id="42",
                                       user_id="telegram:42"))  # fmt: skip
    store.memory.link(Identity(space="owner-a", channel="chat", external_id="ada", user_id="ada"))
    time.sleep(0.01)
    moved = store.memory.link(
        Identity(
            space="owner-a",
            channel="telegram",
            external_id="42",
            user_id="ada",
            display_name="Ada L.",
        )
    )
    assert moved.created_at == first.created_at and moved.updated_at > first.updated_at
    got = store.memory.identity("owner-a", "telegram", "42")
    assert got is not None and got.user_id == "ada" and got.display_name == "Ada L."
    assert store.memory.identity("owner-b", "telegram", "42") is None
    assert [(i.channel, i.external_id) for i in store.memory.identities("owner-a", "ada")] == [
        ("chat", "ada"),
        ("telegram", "42"),
    ]
    assert store.memory.identities("owner-b", "ada") == []


def test_a_draft_keeps_its_author(store: Store) -> None:
    wf = make_workflow(store)
    store.workflows.save_draft(wf.id, graph("a"), "dsl", author="agent:builder.write")
    draft = store.workflows.get_draft(wf.id)
    assert draft is not None and draft.author == "agent:builder.write"
    store.workflows.save_draft(wf.id, graph("a", "b"))
    assert store.workflows.get_draft(wf.id).author is None  # type: ignore[union-attr]
