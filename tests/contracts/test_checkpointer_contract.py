"""One contract for LangGraph checkpointers: our SqlCheckpointSaver (SQLite, PostgreSQL) must
behave like LangGraph's own InMemorySaver, directly and under real graphs."""

from __future__ import annotations

import operator
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ERROR,
    INTERRUPT,
    BaseCheckpointSaver,
    Checkpoint,
    CheckpointMetadata,
    empty_checkpoint,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt

from tests.store.dbs import fresh_sqlite_url
from workspace.store import MemoryStore, SqlCheckpointSaver, open_store
from workspace.store.sql import SqlStore
from workspace.store.testing import clear_tables

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


class Env:
    """A checkpointer plus a way to get a fresh one on the same storage (a new process)."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self._memory = MemoryStore() if url is None else None
        self._store: SqlStore | None = None
        self.saver: BaseCheckpointSaver[Any] = self._open()

    def _open(self) -> BaseCheckpointSaver[Any]:
        if self._memory is not None:
            saver: BaseCheckpointSaver[Any] = self._memory.checkpointer()
            return saver
        assert self.url is not None
        self._store = open_store(self.url)
        return self._store.checkpointer()

    def store(self) -> MemoryStore | SqlStore:
        store = self._memory or self._store
        assert store is not None
        return store

    def reopen(self) -> BaseCheckpointSaver[Any]:
        """Close everything and open again: new engine, new pool, new saver object."""
        if self._store is not None:
            self._store.close()
        self.saver = self._open()
        return self.saver

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    if request.param == "memory":
        url = None
    elif request.param == "sqlite":
        url = fresh_sqlite_url(request.getfixturevalue("sqlite_template"), tmp_path)
    else:
        url = request.getfixturevalue("postgres_url")
        with open_store(url) as s:
            clear_tables(s.engine)
    e = Env(url)
    try:
        yield e
    finally:
        e.close()


def test_each_store_gives_its_saver(env: Env) -> None:
    expected = InMemorySaver if env.url is None else SqlCheckpointSaver
    assert isinstance(env.saver, expected)
    assert env.store().checkpointer() is env.saver  # one saver per store


# --- direct API -------------------------------------------------------------------------------


def cfg(thread: str, ns: str = "", checkpoint_id: str | None = None) -> RunnableConfig:
    c: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ns}
    if checkpoint_id is not None:
        c["checkpoint_id"] = checkpoint_id
    return {"configurable": c}


def put(
    saver: BaseCheckpointSaver[Any],
    config: RunnableConfig,
    values: dict[str, Any],
    *,
    step: int = 0,
    source: str = "loop",
    previous: Checkpoint | None = None,
) -> tuple[RunnableConfig, Checkpoint]:
    """Save a checkpoint whose channels ``values`` changed since ``previous``."""
    checkpoint = empty_checkpoint()
    versions: dict[str, Any] = dict(previous["channel_versions"]) if previous else {}
    new_versions = {}
    for channel in values:
        versions[channel] = saver.get_next_version(versions.get(channel), None)
        new_versions[channel] = versions[channel]
    all_values = dict(previous["channel_values"]) if previous else {}
    all_values.update(values)
    checkpoint["channel_values"] = all_values
    checkpoint["channel_versions"] = versions
    metadata: CheckpointMetadata = {"source": source, "step": step, "parents": {}}
    return saver.put(config, checkpoint, metadata, new_versions), checkpoint


def test_put_and_get_tuple(env: Env) -> None:
    saver = env.saver
    assert saver.get_tuple(cfg("t1")) is None
    saved1, cp1 = put(saver, cfg("t1"), {"a": 1, "b": [1, "x", {"y": None}]}, source="input")
    assert saved1["configurable"]["checkpoint_id"] == cp1["id"]
    _, cp2 = put(saver, saved1, {"a": 2}, step=1, previous=cp1)

    latest = saver.get_tuple(cfg("t1"))
    assert latest is not None
    assert latest.config["configurable"] == {
        "thread_id": "t1",
        "checkpoint_ns": "",
        "checkpoint_id": cp2["id"],
    }
    assert latest.checkpoint["id"] == cp2["id"]
    assert latest.checkpoint["channel_values"] == {"a": 2, "b": [1, "x", {"y": None}]}
    assert latest.checkpoint["channel_versions"] == cp2["channel_versions"]
    assert latest.metadata["source"] == "loop" and latest.metadata["step"] == 1
    assert latest.parent_config is not None
    assert latest.parent_config["configurable"]["checkpoint_id"] == cp1["id"]
    assert latest.pending_writes == []

    first = saver.get_tuple(cfg("t1", checkpoint_id=cp1["id"]))
    assert first is not None and first.parent_config is None
    assert first.checkpoint["channel_values"] == {"a": 1, "b": [1, "x", {"y": None}]}
    assert first.metadata["source"] == "input"
    assert saver.get_tuple(cfg("t1", checkpoint_id="nope")) is None
    assert saver.get_tuple(cfg("t1", ns="sub")) is None
    assert saver.get_tuple(cfg("t2")) is None


def test_namespaces_are_separate(env: Env) -> None:
    saver = env.saver
    put(saver, cfg("t", ""), {"a": "root"})
    _, sub = put(saver, cfg("t", "child:1"), {"a": "child"})
    root = saver.get_tuple(cfg("t"))
    child = saver.get_tuple(cfg("t", "child:1"))
    assert root is not None and child is not None
    assert root.checkpoint["channel_values"] == {"a": "root"}
    assert child.checkpoint["channel_values"] == {"a": "child"}
    assert child.config["configurable"]["checkpoint_ns"] == "child:1"
    assert {t.checkpoint["id"] for t in saver.list(cfg("t", "child:1"))} == {sub["id"]}
    assert len(list(saver.list({"configurable": {"thread_id": "t"}}))) == 2


def test_list_with_filter_before_and_limit(env: Env) -> None:
    saver = env.saver
    config, previous = cfg("lt"), None
    ids = []
    for step in range(5):
        config, previous = put(
            saver,
            config,
            {"n": step},
            step=step,
            source="input" if step == 0 else "loop",
            previous=previous,
        )
        ids.append(previous["id"])
    put(saver, cfg("other"), {"n": 0})

    listed = list(saver.list(cfg("lt")))
    assert [t.checkpoint["id"] for t in listed] == ids[::-1]
    assert [t.checkpoint["channel_values"]["n"] for t in listed] == [4, 3, 2, 1, 0]
    assert [t.checkpoint["id"] for t in saver.list(cfg("lt"), limit=2)] == ids[:-3:-1]
    assert [t.checkpoint["id"] for t in saver.list(cfg("lt"), before=cfg("lt", "", ids[2]))] == [
        ids[1],
        ids[0],
    ]
    assert [
        t.checkpoint["id"] for t in saver.list(cfg("lt"), before=cfg("lt", "", ids[3]), limit=1)
    ] == [ids[2]]
    assert [t.checkpoint["id"] for t in saver.list(cfg("lt"), filter={"source": "input"})] == [
        ids[0]
    ]
    assert [t.metadata["step"] for t in saver.list(cfg("lt"), filter={"step": 3})] == [3]
    assert [
        t.metadata["step"] for t in saver.list(cfg("lt"), filter={"source": "loop"}, limit=2)
    ] == [4, 3]
    assert list(saver.list(cfg("lt"), filter={"source": "nope"})) == []
    assert [t.checkpoint["id"] for t in saver.list(cfg("lt", "", ids[1]))] == [ids[1]]
    assert list(saver.list(cfg("lt"), limit=0)) == []
    assert len(list(saver.list(None))) == 6
    assert len(list(saver.list(None, filter={"source": "input"}))) == 1


def test_put_writes_come_back_as_pending_writes(env: Env) -> None:
    saver = env.saver
    saved, _ = put(saver, cfg("w"), {"a": 1})
    saver.put_writes(saved, [("a", 10), ("b", {"x": [1]})], task_id="task-2", task_path="~2")
    saver.put_writes(saved, [("a", 20)], task_id="task-1", task_path="~1")
    # a regular write is first-write-wins per (task, index)
    saver.put_writes(saved, [("a", 99)], task_id="task-1", task_path="~1")
    tup = saver.get_tuple(cfg("w"))
    assert tup is not None and tup.pending_writes is not None
    assert sorted(tup.pending_writes) == sorted(
        [("task-2", "a", 10), ("task-2", "b", {"x": [1]}), ("task-1", "a", 20)]
    )
    # ordered like LangGraph applies them: by task path, then task id, then index
    assert tup.pending_writes[0] == ("task-1", "a", 20)
    listed = next(iter(saver.list(cfg("w"))))
    assert listed.pending_writes == tup.pending_writes


def test_special_writes_replace_earlier_ones(env: Env) -> None:
    saver = env.saver
    saved, _ = put(saver, cfg("s"), {"a": 1})
    saver.put_writes(saved, [(ERROR, "first failure")], task_id="t")
    saver.put_writes(saved, [(ERROR, "second failure")], task_id="t")
    saver.put_writes(saved, [(INTERRUPT, ["ask"])], task_id="t")
    tup = saver.get_tuple(cfg("s"))
    assert tup is not None and tup.pending_writes is not None
    assert sorted(tup.pending_writes, key=repr) == sorted(
        [("t", ERROR, "second failure"), ("t", INTERRUPT, ["ask"])], key=repr
    )


def test_writes_belong_to_their_checkpoint(env: Env) -> None:
    saver = env.saver
    first, cp1 = put(saver, cfg("c"), {"a": 1})
    saver.put_writes(first, [("a", "for first")], task_id="t")
    second, _ = put(saver, first, {"a": 2}, previous=cp1)
    latest = saver.get_tuple(cfg("c"))
    assert latest is not None and latest.pending_writes == []
    older = saver.get_tuple(first)
    assert older is not None and older.pending_writes == [("t", "a", "for first")]
    assert second["configurable"]["checkpoint_id"] != first["configurable"]["checkpoint_id"]


def test_delete_thread(env: Env) -> None:
    saver = env.saver
    kept, _ = put(saver, cfg("keep"), {"a": 1})
    saved, _ = put(saver, cfg("gone"), {"a": 1})
    put(saver, cfg("gone", "sub"), {"a": 1})
    saver.put_writes(saved, [("a", 2)], task_id="t")
    saver.delete_thread("gone")
    assert saver.get_tuple(cfg("gone")) is None
    assert saver.get_tuple(cfg("gone", "sub")) is None
    assert list(saver.list(cfg("gone"))) == []
    assert saver.get_tuple(cfg("keep")) is not None
    # the thread can be used again from scratch
    put(saver, cfg("gone"), {"b": 3})
    again = saver.get_tuple(cfg("gone"))
    assert again is not None and again.checkpoint["channel_values"] == {"b": 3}
    assert again.pending_writes == []
    assert kept["configurable"]["thread_id"] == "keep"


def test_unchanged_channels_are_read_from_earlier_versions(env: Env) -> None:
    saver = env.saver
    big = {"messages": [f"message {i}" for i in range(200)]}
    config, cp = put(saver, cfg("blob"), {"history": big, "n": 0})
    for n in range(1, 4):
        config, cp = put(saver, config, {"n": n}, previous=cp)
    tup = saver.get_tuple(cfg("blob"))
    assert tup is not None
    assert tup.checkpoint["channel_values"] == {"history": big, "n": 3}


def test_saved_checkpoints_survive_reopening(env: Env) -> None:
    saved, cp = put(env.saver, cfg("persist"), {"a": [1, 2]})
    env.saver.put_writes(saved, [("a", 3)], task_id="t")
    # the next checkpoint of the thread stores the task's writes with it (the SQL saver holds
    # them back for that): another process sees both at once
    put(env.saver, cfg("persist-2"), {"b": 1})
    env.saver.put_writes(saved, [("b", 4)], task_id="u")
    _, cp2 = put(env.saver, saved, {"a": [1, 2, 3]}, previous=cp)
    other = Env(env.url) if env.url is not None else env
    try:
        for saver in (other.saver, env.reopen()):
            tup = saver.get_tuple(saved)
            assert tup is not None and tup.checkpoint["id"] == cp["id"]
            assert tup.checkpoint["channel_values"] == {"a": [1, 2]}
            assert sorted(tup.pending_writes) == [("t", "a", 3), ("u", "b", 4)]
            newest = saver.get_tuple(cfg("persist"))
            assert newest is not None and newest.checkpoint["id"] == cp2["id"]
    finally:
        if other is not env:
            other.close()


def test_task_writes_without_a_next_checkpoint_are_stored_by_themselves(env: Env) -> None:
    """A task that finished while its superstep goes on (or the last one before an error or an
    interrupt) has no checkpoint to ride on: its writes are stored soon anyway."""
    saved, _ = put(env.saver, cfg("alone"), {"a": 1})
    env.saver.put_writes(saved, [("a", 2)], task_id="t")
    deadline = time.monotonic() + 5
    while True:
        other = Env(env.url) if env.url is not None else env  # a second process's view
        try:
            tup = other.saver.get_tuple(saved)
        finally:
            if other is not env:
                other.close()
        if tup is not None and tup.pending_writes == [("t", "a", 2)]:
            break
        assert time.monotonic() < deadline, "the held-back writes were never stored"
        time.sleep(0.01)


# --- real graphs ------------------------------------------------------------------------------


class ApprovalState(TypedDict, total=False):
    request: str
    prepared: str
    answer: str
    result: str


def approval_graph(saver: BaseCheckpointSaver[Any], calls: dict[str, int]) -> Any:
    def prepare(state: ApprovalState) -> ApprovalState:
        calls["prepare"] = calls.get("prepare", 0) + 1
        return {"prepared": state["request"].upper()}

    def approve(state: ApprovalState) -> ApprovalState:
        calls["approve"] = calls.get("approve", 0) + 1
        answer = interrupt({"question": f"send {state['prepared']}?"})
        return {"answer": answer}

    def finish(state: ApprovalState) -> ApprovalState:
        calls["finish"] = calls.get("finish", 0) + 1
        return {"result": f"{state['prepared']}:{state['answer']}"}

    builder = StateGraph(ApprovalState)
    builder.add_node("prepare", prepare)
    builder.add_node("approve", approve)
    builder.add_node("finish", finish)
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "approve")
    builder.add_edge("approve", "finish")
    builder.add_edge("finish", END)
    return builder.compile(checkpointer=saver)


def test_interrupt_resumes_after_reopening_the_store(env: Env) -> None:
    calls: dict[str, int] = {}
    config: RunnableConfig = {"configurable": {"thread_id": f"hitl-{uuid.uuid4().hex}"}}
    first = approval_graph(env.saver, calls).invoke({"request": "mail"}, config, durability="sync")
    assert first["__interrupt__"][0].value == {"question": "send MAIL?"}
    assert calls == {"prepare": 1, "approve": 1}

    # another worker: new engine, new saver, recompiled graph
    graph = approval_graph(env.reopen(), calls)
    snapshot = graph.get_state(config)
    assert snapshot.next == ("approve",)
    assert snapshot.values["prepared"] == "MAIL"
    result = graph.invoke(Command(resume="yes"), config, durability="sync")
    assert result["result"] == "MAIL:yes"
    assert calls == {"prepare": 1, "approve": 2, "finish": 1}
    assert graph.get_state(config).next == ()


class CountState(TypedDict, total=False):
    trail: Annotated[list[str], operator.add]


def test_crashed_run_continues_without_rerunning_finished_nodes(env: Env) -> None:
    calls: dict[str, int] = {}

    def node(name: str, *, fail_first: bool = False) -> Any:
        def run(state: CountState) -> CountState:
            calls[name] = calls.get(name, 0) + 1
            if fail_first and calls[name] == 1:
                raise RuntimeError(f"{name} crashed")
            return {"trail": [name]}

        return run

    def build(saver: BaseCheckpointSaver[Any]) -> Any:
        builder = StateGraph(CountState)
        builder.add_node("a", node("a"))
        builder.add_node("b", node("b", fail_first=True))
        builder.add_node("c", node("c"))
        builder.add_edge(START, "a")
        builder.add_edge("a", "b")
        builder.add_edge("b", "c")
        builder.add_edge("c", END)
        return builder.compile(checkpointer=saver)

    config: RunnableConfig = {"configurable": {"thread_id": f"crash-{uuid.uuid4().hex}"}}
    with pytest.raises(RuntimeError, match="b crashed"):
        build(env.saver).invoke({"trail": []}, config, durability="sync")
    assert calls == {"a": 1, "b": 1}

    graph = build(env.reopen())
    assert graph.get_state(config).next == ("b",)
    result = graph.invoke(None, config, durability="sync")
    assert result["trail"] == ["a", "b", "c"]
    assert calls == {"a": 1, "b": 2, "c": 1}


class FanState(TypedDict, total=False):
    items: list[int]
    results: Annotated[list[int], operator.add]


def test_parallel_branches_write_concurrently(env: Env) -> None:
    def fan_out(state: FanState) -> list[Send]:
        return [Send("work", {"items": [i]}) for i in state["items"]]

    def work(state: FanState) -> FanState:
        return {"results": [state["items"][0] * 10]}

    builder = StateGraph(FanState)
    builder.add_node("work", work)
    builder.add_conditional_edges(START, fan_out, ["work"])
    builder.add_edge("work", END)
    graph = builder.compile(checkpointer=env.saver)
    config: RunnableConfig = {"configurable": {"thread_id": f"fan-{uuid.uuid4().hex}"}}
    result = graph.invoke({"items": list(range(12))}, config, durability="sync")
    assert sorted(result["results"]) == [i * 10 for i in range(12)]
    history = list(graph.get_state_history(config))
    assert len(history) >= 2
    assert sorted(env.reopen().get_tuple(config).checkpoint["channel_values"]["results"]) == [
        i * 10 for i in range(12)
    ]


async def _async_round_trip(saver: BaseCheckpointSaver[Any]) -> None:
    checkpoint = empty_checkpoint()
    version = saver.get_next_version(None, None)
    checkpoint["channel_values"] = {"a": "async"}
    checkpoint["channel_versions"] = {"a": version}
    saved = await saver.aput(
        cfg("async"), checkpoint, {"source": "input", "step": 0}, {"a": version}
    )
    await saver.aput_writes(saved, [("a", "w")], task_id="t")
    tup = await saver.aget_tuple(cfg("async"))
    assert tup is not None and tup.checkpoint["channel_values"] == {"a": "async"}
    assert tup.pending_writes == [("t", "a", "w")]
    assert [t.checkpoint["id"] async for t in saver.alist(cfg("async"))] == [checkpoint["id"]]
    await saver.adelete_thread("async")
    assert await saver.aget_tuple(cfg("async")) is None


def test_async_methods(env: Env) -> None:
    import asyncio

    asyncio.run(_async_round_trip(env.saver))
