"""The run state carried through the compiled graph (SPEC §4.2)."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict


def merge_dict(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    if not left:
        return dict(right or {})
    if not right:
        return left
    out = dict(left)
    out.update(right)
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
    Outputs: Annotated[dict[str, Any], merge_dict]
    Status: Annotated[dict[str, str], merge_dict]
    Routes: Annotated[dict[str, str | None], merge_dict]
    Errors: Annotated[dict[str, Any], merge_dict]
    #: node id → superstep at which it finished (orders the run output)
    Done: Annotated[dict[str, int], merge_dict]
