"""Hypothesis strategies: random DSL documents and random graphs."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from workspace.domain import (
    ATTACHMENT_KINDS,
    Edge,
    EdgeKind,
    JoinSpec,
    Node,
    Position,
    RetryPolicy,
    WorkflowGraph,
)
from workspace.domain.graph import RESERVED_NODE_IDS
from workspace.dsl.compiler import sort_edges
from workspace.sdk import NodeRegistry

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)


def _json_containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=8), children, max_size=3
    )


json_values = st.recursive(json_scalars, _json_containers, max_leaves=8)
json_configs = st.dictionaries(st.text(max_size=10), json_values, max_size=4)
ids = st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True).filter(
    lambda i: i not in RESERVED_NODE_IDS and not i.startswith("__")
)
positions = st.builds(
    Position, x=st.floats(-1e6, 1e6, allow_nan=False), y=st.floats(-1e6, 1e6, allow_nan=False)
)
texts = st.text(max_size=30)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A random implicit-flow document over the test registry (always valid)."""
    n = draw(st.integers(1, 7))
    step_ids = [f"s{i}" for i in range(n)]
    doc: dict[str, Any] = {"name": draw(st.text(min_size=1, max_size=20).filter(str.strip))}
    trig = draw(st.sampled_from(["none", "chat", "webhook", "two", "default"]))
    if trig == "webhook":
        doc["trigger"] = {"type": "webhook", "config": {"auth": "none", "path": "/h"}}
    elif trig == "two":
        doc["triggers"] = [
            "chat",
            {"type": "schedule", "id": "cron", "config": {"cron": "* * * * *"}},
        ]
    elif trig != "default":
        doc["trigger"] = trig
    if draw(st.booleans()):
        doc["durability"] = draw(st.sampled_from(["sync", "async", "exit"]))
    if draw(st.booleans()):
        doc["model"] = {"capability": draw(texts)}
    steps: list[dict[str, Any]] = []
    referenced: set[str] = set()
    body_counter = 0
    for i, sid in enumerate(step_ids):
        later = step_ids[i + 1 :]
        kind = draw(
            st.sampled_from(
                [
                    "code",
                    "transform",
                    "http",
                    "human",
                    "assertion",
                    "switch",
                    "loop",
                    "agent",
                    "merge",
                    "reply",
                    "generic",
                ]
            )
        )
        step: dict[str, Any] = {"id": sid}
        if kind == "code":
            step.update(type="code", code=draw(texts) or "return 1")
        elif kind == "transform":
            step.update(type="transform", template=draw(json_values))
        elif kind == "http":
            step.update(
                type=draw(st.sampled_from(["http", "http_request"])),
                url="https://example.org/" + draw(st.from_regex(r"[a-z]{0,5}", fullmatch=True)),
            )
        elif kind == "human":
            step.update(type="human", message=draw(texts) or "ok?")
        elif kind == "assertion":
            step.update(type="assertion", rules=[{"field": "trigger.x", "operator": "exists"}])
        elif kind == "switch" and later:
            targets = draw(st.lists(st.sampled_from(later), min_size=1, max_size=3, unique=True))
            step.update(
                type="switch",
                rules=[{"field": "trigger.k", "value": t, "route": t} for t in targets[:-1]]
                or [{"field": "trigger.k", "value": 1, "route": targets[0]}],
            )
            if len(targets) > 1 or draw(st.booleans()):
                step["default"] = targets[-1]
            referenced.update(targets)
        elif kind == "loop":
            body = []
            for _ in range(draw(st.integers(1, 3))):
                body_counter += 1
                entry: dict[str, Any] = {"type": "code", "code": "return loop.item"}
                if draw(st.booleans()):
                    entry["id"] = f"b{body_counter}"
                body.append(entry)
            step.update(type="loop", over="{{ trigger.items }}", body=body)
        elif kind == "agent":
            step.update(type="agent", prompt=draw(texts) or "hi")
            tools = draw(
                st.lists(
                    st.sampled_from(
                        [
                            "calculator",
                            "code",
                            "web_search",
                            {"type": "web_search", "url": "http://s"},
                        ]
                    ),
                    max_size=3,
                )
            )
            if tools:
                step["tools"] = tools
            if draw(st.booleans()):
                step["model"] = {"capability": draw(texts)}
            if draw(st.booleans()):
                step["memory"] = draw(st.sampled_from([True, {"scope": "run"}]))
        elif kind == "merge":
            step.update(type="merge", join=draw(st.sampled_from(["all", "any", {"n": 2}])))
        elif kind == "reply":
            step.update(type="reply_chat", message=draw(texts))
        else:
            step.update(type="generic", config=draw(json_configs))
        if draw(st.integers(0, 5)) == 0 and later:
            step["on_error"] = draw(st.sampled_from(later))
            referenced.add(step["on_error"])
        if draw(st.integers(0, 4)) == 0:
            step["label"] = draw(texts)
        if draw(st.integers(0, 5)) == 0:
            step["retry"] = {"max_attempts": draw(st.integers(1, 5))}
        if draw(st.integers(0, 5)) == 0:
            step["timeout_s"] = draw(st.floats(0.5, 100))
        if draw(st.integers(0, 5)) == 0 and i > 0 and sid not in referenced:
            del step["id"]
        steps.append(step)
    doc["steps"] = steps
    named = [s["id"] for s in steps if "id" in s]
    if len(named) >= 2 and draw(st.booleans()):
        pairs = draw(
            st.lists(
                st.tuples(st.integers(0, len(named) - 1), st.integers(0, len(named) - 1)),
                max_size=3,
            )
        )
        doc["edges"] = [{"from": named[a], "to": named[b]} for a, b in pairs if a < b]
    if draw(st.booleans()):
        doc["layout"] = {
            sid: {"x": draw(st.integers(-500, 500)), "y": draw(st.integers(0, 900))}
            for sid in named
            if draw(st.booleans())
        }
    return doc


@st.composite
def graphs(draw: st.DrawFn, registry: NodeRegistry, *, configs: bool = True) -> WorkflowGraph:
    """A random graph of registered types with random edges of every kind."""
    names = registry.names()
    node_ids = draw(st.lists(ids, min_size=1, max_size=8, unique=True))
    nodes = []
    for nid in node_ids:
        type_name = draw(st.sampled_from(names))
        config: dict[str, Any] = {}
        if configs:
            candidate = draw(json_configs)
            try:
                registry.get(type_name).Config.model_validate(candidate)
                config = candidate
            except Exception:
                config = {}
        nodes.append(
            Node(
                id=nid,
                type=type_name,
                config=config,
                label=draw(st.none() | texts),
                position=draw(st.none() | positions),
                retry=draw(st.none() | st.builds(RetryPolicy, max_attempts=st.integers(1, 5))),
                timeout_s=draw(st.none() | st.floats(0.1, 1000)),
                join=draw(
                    st.none() | st.sampled_from([JoinSpec(mode="any"), JoinSpec(mode="n", n=2)])
                ),
            )
        )
    edges = []
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(list(EdgeKind)))
        src = draw(st.sampled_from(node_ids))
        dst = draw(st.sampled_from(node_ids))
        route = (
            draw(st.from_regex(r"[a-z]{1,6}", fullmatch=True)) if kind == EdgeKind.ROUTE else None
        )
        ports = {}
        if draw(st.integers(0, 4)) == 0:
            ports = {
                "source_port": draw(st.sampled_from(["output", "done", "x"])),
                "target_port": draw(st.sampled_from(["input", "return", "tools"])),
            }
        elif kind in ATTACHMENT_KINDS:
            ports = {
                "target_port": {
                    EdgeKind.LLM: "model",
                    EdgeKind.TOOL: "tools",
                    EdgeKind.MEMORY: "memory",
                }[kind]
            }
        elif kind == EdgeKind.ERROR:
            ports = {"source_port": "error"}
        elif kind == EdgeKind.LOOP_BODY:
            ports = {"source_port": "body"}
        elif kind == EdgeKind.LOOP_RETURN:
            ports = {"target_port": "return"}
        edges.append(Edge(source=src, target=dst, kind=kind, route=route, **ports))
    settings: dict[str, Any] = {}
    if draw(st.booleans()):
        settings["durability"] = "async"
    if draw(st.booleans()):
        settings["custom"] = draw(json_values)
    return WorkflowGraph(nodes=tuple(nodes), edges=sort_edges(edges), settings=settings)
