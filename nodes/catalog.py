"""The list of built-in node types registered by the ``plait.nodes`` entry point."""

from __future__ import annotations

from nodes.code import Code
from nodes.data import Filter, Merge, Transform
from nodes.flow import Reply, Subworkflow, Wait
from nodes.http import HttpRequest
from nodes.human import Human
from nodes.loop import Loop
from nodes.switch import Assertion, Switch
from nodes.tools import Calculator, Datetime
from nodes.triggers import TRIGGER_TYPES
from workspace.sdk import NodeType

BUILTIN_TYPES: list[type[NodeType]] = [
    *TRIGGER_TYPES,
    Switch,
    Assertion,
    Code,
    Transform,
    Merge,
    Filter,
    Loop,
    Wait,
    Human,
    Subworkflow,
    Reply,
    HttpRequest,
    Calculator,
    Datetime,
]

__all__ = ["BUILTIN_TYPES"]
