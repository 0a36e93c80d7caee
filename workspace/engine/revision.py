"""Revision rounds (SPEC §4.5): a node's result sends the run back to an earlier node.

A human answering ``request_revision`` (its ``revision_target`` set) makes its node return a
:class:`~workspace.sdk.RevisionRequest`. The nodes of the *region* — the target, the
requesting node and every node on a path between them — run again, inside the same run:
their finished facts are cleared, their revision round goes up by one, and the target is
started again. Everything else keeps its output (no new cost upstream; side branches that
already ran are not repeated).

A node in round ``k > 0`` executes under the iteration ``revision[k]``: its step record, its
idempotency key (journal, questions, child runs) and its events are those of that round, so
each round is visible and nothing from an earlier round is replayed into it. Expressions see
``revision`` (``round``, ``feedback``, ``answered_by``, ``requested_by``, ``target``); in round
0 it is ``{"round": 0, "feedback": None, ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workspace.engine.failures import NodeFailed
from workspace.engine.topology import Topology
from workspace.sdk.node import RevisionRequest

NO_REVISION: dict[str, Any] = {
    "round": 0,
    "feedback": None,
    "answered_by": None,
    "requested_by": None,
    "target": None,
}


def iteration_of(entry: Mapping[str, Any] | None) -> str:
    """The iteration a node in this revision round executes under ("" in round 0)."""
    if not entry or not entry.get("round"):
        return ""
    return f"revision[{entry['round']}]"


def scope_value(entry: Mapping[str, Any] | None) -> dict[str, Any]:
    """What ``{{ revision }}`` is for a node in this round."""
    return {**NO_REVISION, **(entry or {})}


def region(topology: Topology, target: str, node_id: str) -> list[str]:
    """The nodes a revision from ``node_id`` back to ``target`` runs again (declaration
    order); a NodeFailed when ``target`` is not an earlier step on the path to ``node_id``."""
    main = topology.main
    if target not in main.successors or target == topology.trigger_id or target == node_id:
        raise _bad_target(node_id, target)
    down = _closure(main.successors, target)
    if node_id not in down:
        raise _bad_target(node_id, target)
    predecessors: dict[str, tuple[str, ...]] = {
        n: tuple(dict.fromkeys(e.source for e in edges)) for n, edges in main.incoming.items()
    }
    up = _closure(predecessors, node_id)
    return [n for n in main.nodes if n in down and n in up]


def next_round(
    topology: Topology,
    node_id: str,
    request: RevisionRequest,
    revisions: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    """The ``Revisions`` entries of the region's nodes for the round ``request`` starts."""
    out: dict[str, dict[str, Any]] = {}
    for n in region(topology, request.target, node_id):
        previous = revisions.get(n) or NO_REVISION
        out[n] = {
            "round": int(previous["round"]) + 1,
            "feedback": request.feedback,
            "answered_by": request.answered_by,
            "requested_by": node_id,
            "target": request.target,
        }
    return out


def _closure(edges: Mapping[str, tuple[str, ...]], start: str) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _bad_target(node_id: str, target: str) -> NodeFailed:
    return NodeFailed(
        {
            "code": "bad_revision_target",
            "message": f"node {node_id!r}: revision target {target!r} is not an earlier step "
            f"on the path to {node_id!r}",
            "node_id": node_id,
            "type": "RevisionError",
        }
    )
