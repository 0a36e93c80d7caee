"""The engine: trigger-scoped topology, LangGraph compiler, node executor and run driver.

Imports workspace.domain, workspace.sdk, workspace.expressions and LangGraph — never the store,
the DSL or the runtime. See README.md.
"""

from workspace.engine.output import run_output
from workspace.engine.runner import Engine
from workspace.engine.services import ChildRunner, EngineServices, RunContext
from workspace.engine.topology import Topology, build_topology

__all__ = [
    "ChildRunner",
    "Engine",
    "EngineServices",
    "RunContext",
    "Topology",
    "build_topology",
    "run_output",
]
