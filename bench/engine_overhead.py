"""Engine overhead: Plait vs hand-written LangGraph, same checkpointer, same process (SPEC §11).

Two shapes — a 20-node no-op chain and a fan-out/fan-in diamond (1 → 8 → 1) — run inline with
durable (``sync``) checkpoints on SQLite (WAL). Plait runs go through the public facade
(``Workspace.run``: run record, step records, events, checkpoints). The LangGraph baseline is the
same graph written directly with ``StateGraph`` on the same ``SqlCheckpointSaver`` class and
database settings. Runs alternate between the two so machine noise hits both alike.

    python bench/engine_overhead.py [--quick] [--runs N]

Prints one JSON object: {shape: {"plait_ms_per_run", "langgraph_ms_per_run", "ratio"}, ...}.
Target: ratio ≤ 1.5.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypedDict

from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel

from workspace.runtime.workspace import Workspace
from workspace.sdk import NodeContext, NodeRegistry, NodeType
from workspace.settings import Settings
from workspace.store import open_store, upgrade_database


class _NoConfig(BaseModel):
    pass


class NoOp(NodeType):
    """Returns a constant: measures the engine, not the node."""

    name = "bench_noop"
    Config: ClassVar[type[BaseModel]] = _NoConfig

    def execute(self, ctx: NodeContext, config: Any, input: Any) -> dict[str, Any]:
        return {"ok": 1}


FANOUT = 8
CHAIN = 20


def chain_dsl() -> str:
    steps = "\n".join(f"  - {{id: n{i}, type: bench_noop}}" for i in range(CHAIN))
    return f"name: bench-chain\ntrigger: manual\nsteps:\n{steps}\n"


def diamond_dsl() -> str:
    lines = [
        "name: bench-diamond",
        "trigger: manual",
        "flow: explicit",
        "steps:",
        "  - {id: head, type: bench_noop}",
    ]
    lines += [f"  - {{id: b{i}, type: bench_noop}}" for i in range(FANOUT)]
    lines += ["  - {id: tail, type: bench_noop}", "edges:", "  - {from: trigger_manual, to: head}"]
    for i in range(FANOUT):
        lines += [f"  - {{from: head, to: b{i}}}", f"  - {{from: b{i}, to: tail}}"]
    return "\n".join(lines) + "\n"


def _merge(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(a or {})
    out.update(b or {})
    return out


class S(TypedDict, total=False):
    trigger: Any
    outputs: Annotated[dict[str, Any], _merge]


def _noop(name: str) -> Any:
    def fn(state: S) -> S:
        return {"outputs": {name: {"ok": 1}}}

    return fn


def langgraph_chain(checkpointer: Any) -> Any:
    g: StateGraph[S, Any, S, S] = StateGraph(S)
    names = ["trigger"] + [f"n{i}" for i in range(CHAIN)]
    for n in names:
        g.add_node(n, _noop(n))
    g.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        g.add_edge(a, b)
    g.add_edge(names[-1], END)
    return g.compile(checkpointer=checkpointer)


def langgraph_diamond(checkpointer: Any) -> Any:
    g: StateGraph[S, Any, S, S] = StateGraph(S)
    for n in ["trigger", "head", "tail"] + [f"b{i}" for i in range(FANOUT)]:
        g.add_node(n, _noop(n))
    g.add_edge(START, "trigger")
    g.add_edge("trigger", "head")
    for i in range(FANOUT):
        g.add_edge("head", f"b{i}")
    g.add_edge([f"b{i}" for i in range(FANOUT)], "tail")
    g.add_edge("tail", END)
    return g.compile(checkpointer=checkpointer)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="few runs; finishes in well under 30 s")
    ap.add_argument("--runs", type=int, default=None)
    args = ap.parse_args()
    runs = args.runs or (15 if args.quick else 100)
    warmup = 3

    tmp = Path(tempfile.mkdtemp(prefix="plait-bench-"))
    registry = NodeRegistry.discover()
    registry.register(NoOp)
    ws = Workspace.open(
        tmp / "plait", settings=Settings(workspace_dir=tmp / "plait"), registry=registry
    )
    ws.import_dsl(chain_dsl())
    ws.import_dsl(diamond_dsl())

    lg_url = f"sqlite:///{tmp / 'langgraph.db'}"
    upgrade_database(lg_url)
    lg_store = open_store(lg_url)
    saver = lg_store.checkpointer()
    graphs = {"chain_20": langgraph_chain(saver), "diamond_1x8x1": langgraph_diamond(saver)}
    slugs = {"chain_20": "bench-chain", "diamond_1x8x1": "bench-diamond"}

    result: dict[str, Any] = {}
    for shape, app in graphs.items():
        plait_t: list[float] = []
        lg_t: list[float] = []
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            h = ws.run(slugs[shape], {"i": i})
            t1 = time.perf_counter()
            assert h.status.value == "succeeded", h.error
            app.invoke(
                {"trigger": {"i": i}},
                {"configurable": {"thread_id": f"{shape}-{i}"}},
                durability="sync",
            )
            t2 = time.perf_counter()
            if i >= warmup:
                plait_t.append((t1 - t0) * 1000)
                lg_t.append((t2 - t1) * 1000)
        p, lg = statistics.median(plait_t), statistics.median(lg_t)
        result[shape] = {
            "plait_ms_per_run": round(p, 3),
            "langgraph_ms_per_run": round(lg, 3),
            "ratio": round(p / lg, 3),
            "runs": runs,
        }
    ws.close()
    lg_store.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
