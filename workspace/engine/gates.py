"""Start gates (SPEC §4.5, ``approve_to_start``): nodes answered before the run does any work.

A node type says through :meth:`~workspace.sdk.NodeType.start_gate` that a node, with its
config, is a start gate and on which route the run may start. The compiler asks each gate
(one after the other, in declaration order) right after the trigger: the gate executes the
node itself — its request, answer validation, deadline and ``on_timeout`` are the node's own —
with the trigger's output as input (so its templates may use ``trigger`` and ``run`` only).
The result is kept in the run state (``Gates``) and the node's step record; when the flow
reaches the node it takes that result and does not ask again. A gate whose result takes any
other route ends the run ``cancelled`` (the runner). Re-runs start at their entry node and
ask no gate (unless they start at the trigger).
"""

from __future__ import annotations

from workspace.engine.topology import Topology
from workspace.sdk.registry import NodeRegistry


def start_gates(topology: Topology, registry: NodeRegistry) -> list[tuple[str, str]]:
    """(node id, passing route) of the nodes the run must get past before it does any work
    (``approve_to_start``), in declaration order — loop body nodes included."""
    scheduled = set(topology.main.nodes)
    for body in topology.loops.values():
        scheduled.update(body.nodes)
    gates = []
    for node_id in sorted(scheduled, key=topology.order.__getitem__):
        node = topology.nodes[node_id]
        if node.type not in registry:
            continue  # the run fails on it when it is reached, as it would without gates
        passes = registry.get(node.type).start_gate(dict(node.config))
        if passes is not None:
            gates.append((node_id, passes))
    return gates
