"""Helpers shared by the store contract suites (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from workspace.domain.events import Event, EventType
from workspace.domain.graph import Edge, Node, WorkflowGraph
from workspace.domain.ports import Store
from workspace.domain.run import Run
from workspace.domain.workflow import Workflow, new_id

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
