"""When a node runs, is skipped, or waits (SPEC §4.4), and what its input is.

Dead-path elimination: every node of a scope finishes exactly once, as ``succeeded``, ``failed``
(handled by an error edge) or ``skipped``. An edge is *active* when its source finished in a way
that fires it; a node whose incoming branches are all finished and none active is skipped, which
is what lets a ``join: all`` merge after a switch run exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from workspace.domain.graph import Edge, EdgeKind, Node

SUCCEEDED = "succeeded"
FAILED = "failed"  # failed and handled by an error edge
SKIPPED = "skipped"

Decision = Literal["run", "skip", "wait"]


@dataclass(frozen=True)
class Finished:
    """A read-only view of what has finished in a scope."""

    status: Mapping[str, str]
    routes: Mapping[str, str | None]
    outputs: Mapping[str, Any]
    errors: Mapping[str, Any]


def edge_active(edge: Edge, view: Finished) -> bool | None:
    """True/False once the source finished, None while it has not."""
    st = view.status.get(edge.source)
    if st is None:
        return None
    if st == SKIPPED:
        return False
    if edge.kind == EdgeKind.ERROR:
        return st == FAILED
    if st != SUCCEEDED:
        return False
    if edge.kind == EdgeKind.ROUTE:
        return view.routes.get(edge.source) == edge.route
    return True


def decide(node: Node, incoming: tuple[Edge, ...], view: Finished) -> Decision:
    if not incoming:
        return "run"
    states = [edge_active(e, view) for e in incoming]
    active = sum(1 for s in states if s)
    all_done = all(s is not None for s in states)
    mode = node.join.mode if node.join else "all"
    if mode == "any":
        if active:
            return "run"
    elif mode == "n":
        need = node.join.n if node.join and node.join.n else 1
        if active >= need:
            return "run"
        if all_done and active:
            return "run"  # every live branch arrived; fewer than n were taken
    elif all_done:
        return "run" if active else "skip"
    return "skip" if all_done and not active else "wait"


def node_input(incoming: tuple[Edge, ...], view: Finished) -> Any:
    """Input = the output of the active incoming edge; several → a dict keyed by source id.

    An active error edge carries the error object of its source instead of an output.
    """
    values: dict[str, Any] = {}
    for e in incoming:
        if edge_active(e, view):
            values[e.source] = (
                view.errors.get(e.source)
                if e.kind == EdgeKind.ERROR
                else view.outputs.get(e.source)
            )
    if len(values) == 1:
        return next(iter(values.values()))
    return values
