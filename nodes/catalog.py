"""The list of built-in node types registered by the ``plait.nodes`` entry point."""

from __future__ import annotations

from nodes.agent import Agent, AiModel, Memory
from nodes.classify import Categorizer, Router
from nodes.code import Code
from nodes.data import Filter, Merge, Transform
from nodes.extract import Extractor, OutputParser
from nodes.flow import Reply, Subworkflow, Wait
from nodes.http import HttpRequest
from nodes.human import Human
from nodes.loop import Loop
from nodes.memory import IdentifyUser, MemoryRead, MemoryWrite
from nodes.platform import PLATFORM_TYPES
from nodes.sandboxed import CodeExecute, RunCommand
from nodes.switch import Assertion, Switch
from nodes.tools import Calculator, Datetime
from nodes.triggers import TRIGGER_TYPES
from nodes.web_search import WebSearch
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
    Agent,
    AiModel,
    Memory,
    Categorizer,
    Router,
    Extractor,
    OutputParser,
    MemoryRead,
    MemoryWrite,
    IdentifyUser,
    CodeExecute,
    RunCommand,
    WebSearch,
    *PLATFORM_TYPES,
]

__all__ = ["BUILTIN_TYPES"]
