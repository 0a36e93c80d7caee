"""The node SDK: what a node type is, what it may ask of the engine, and the registry.

Node packages (``nodes/`` and third parties) import only this package, ``workspace.domain`` and
``workspace.errors``. See README.md.
"""

from workspace.sdk.context import LoopInfo, NodeContext
from workspace.sdk.node import NoConfig, NodeResult, NodeType, Port, RevisionRequest
from workspace.sdk.registry import NodeRegistry, UnknownNodeType
from workspace.sdk.spec import NodeTypeSpec, PortSpec

__all__ = [
    "LoopInfo",
    "NoConfig",
    "NodeContext",
    "NodeRegistry",
    "NodeResult",
    "NodeType",
    "NodeTypeSpec",
    "Port",
    "PortSpec",
    "RevisionRequest",
    "UnknownNodeType",
]
