"""A run's output (SPEC §4.2)."""

from __future__ import annotations

from typing import Any

from workspace.engine.activation import FAILED, SUCCEEDED
from workspace.engine.state import finished_view
from workspace.engine.topology import Topology

REPLY_TYPE = "reply"


def run_output(topology: Topology, state: dict[str, Any]) -> Any:
    """SPEC §4.2: the last ``reply`` that ran, else the last succeeded sink (ties: declaration
    order, later wins)."""
    facts: dict[str, dict[str, Any]] = state.get("Nodes") or {}
    status, _, outputs, _ = finished_view(facts)
    done = {n: int(f.get("step", 0)) for n, f in facts.items()}
    nodes = topology.nodes
    succeeded = [n for n, s in status.items() if s == SUCCEEDED and n in topology.main.incoming]

    def rank(n: str) -> tuple[int, int]:
        return (done.get(n, 0), topology.order[n])

    replies = [n for n in succeeded if nodes[n].type == REPLY_TYPE]
    if replies:
        return outputs.get(max(replies, key=rank))
    executed = {n for n, s in status.items() if s in (SUCCEEDED, FAILED)}
    sinks = [
        n for n in succeeded if not any(s in executed for s in topology.main.successors.get(n, ()))
    ]
    if not sinks:
        return None
    return outputs.get(max(sinks, key=rank))
