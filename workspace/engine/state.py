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
    trigger: Any
    #: where the schedule starts: the trigger, or the node a re-run starts from
    entry: str
    #: node id → input to use instead of the computed one (re-run with edited input)
    overrides: dict[str, Any]
    #: nodes that run even if their incoming branches were not taken (re-run start)
    force: list[str]
    outputs: Annotated[dict[str, Any], merge_dict]
    status: Annotated[dict[str, str], merge_dict]
    routes: Annotated[dict[str, str | None], merge_dict]
    errors: Annotated[dict[str, Any], merge_dict]
    #: node id → superstep at which it finished (orders the run output)
    done: Annotated[dict[str, int], merge_dict]
