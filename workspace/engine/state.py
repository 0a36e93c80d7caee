"""The run state carried through the compiled graph (SPEC §4.2)."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict


def merge_dict(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Update ``left`` with ``right``; a key set to None is removed (a revision round clears
    the facts of the nodes it runs again)."""
    if not right:
        return left or {}
    out = dict(left or {})
    for key, value in right.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


class RunState(TypedDict, total=False):
    """Keys are capitalised: node ids are lowercase, so no node can collide with a channel."""

    Trigger: Any
    #: where the schedule starts: the trigger, or the node a re-run starts from
    Entry: str
    #: node id → input to use instead of the computed one (re-run with edited input)
    Overrides: dict[str, Any]
    #: nodes that run even if their incoming branches were not taken (re-run start)
    Force: list[str]
    #: node id → what it finished as: {"status", "step", "output"?, "route"?, "error"?}
    #: (one channel, so each superstep checkpoints one blob, not one per kind of fact)
    Nodes: Annotated[dict[str, dict[str, Any]], merge_dict]
    #: start gate node id → its answer ``{"output", "route", "passed"}`` (``approve_to_start``)
    Gates: Annotated[dict[str, dict[str, Any]], merge_dict]
    #: node id → the revision round it is in: ``{"round", "feedback", "answered_by",
    #: "requested_by", "target"}`` (absent: round 0, never sent back)
    Revisions: Annotated[dict[str, dict[str, Any]], merge_dict]


def finished_view(
    nodes: dict[str, dict[str, Any]],
) -> tuple[dict[str, str], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(status, routes, outputs, errors) of the finished nodes; ``step`` orders run output."""
    status: dict[str, str] = {}
    routes: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for node_id, fact in nodes.items():
        status[node_id] = fact["status"]
        if "output" in fact:
            outputs[node_id] = fact["output"]
            routes[node_id] = fact.get("route")
        if "error" in fact:
            errors[node_id] = fact["error"]
    return status, routes, outputs, errors
