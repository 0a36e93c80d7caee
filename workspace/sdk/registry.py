"""The node type registry: built-ins and third-party types via the ``plait.nodes`` entry points.

An entry point in group ``plait.nodes`` names a callable ``register(registry)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import entry_points

from workspace.errors import ValidationError
from workspace.sdk.node import NodeType
from workspace.sdk.spec import NodeTypeSpec

ENTRY_POINT_GROUP = "plait.nodes"


class UnknownNodeType(ValidationError):
    code = "unknown_node_type"


class NodeRegistry:
    def __init__(self, types: Iterable[type[NodeType]] = ()) -> None:
        self._types: dict[str, type[NodeType]] = {}
        self._aliases: dict[str, str] = {}
        self._instances: dict[str, NodeType] = {}
        for t in types:
            self.register(t)

    def register(self, node_type: type[NodeType], *, replace: bool = False) -> None:
        name = node_type.name
        if not replace and (name in self._types or name in self._aliases):
            raise ValueError(f"node type {name!r} is already registered")
        self._types[name] = node_type
        self._instances.pop(name, None)
        for alias in node_type.aliases:
            self._aliases[alias] = name

    def canonical_name(self, name: str) -> str:
        if name in self._types:
            return name
        if name in self._aliases:
            return self._aliases[name]
        raise UnknownNodeType(f"unknown node type {name!r}", type=name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._types or name in self._aliases)

    def get(self, name: str) -> NodeType:
        canonical = self.canonical_name(name)
        inst = self._instances.get(canonical)
        if inst is None:
            inst = self._instances[canonical] = self._types[canonical]()
        return inst

    def names(self) -> list[str]:
        return sorted(self._types)

    def aliases(self) -> dict[str, str]:
        return dict(self._aliases)

    def specs(self) -> list[NodeTypeSpec]:
        return [self._types[n].spec() for n in self.names()]

    @classmethod
    def discover(cls) -> NodeRegistry:
        """A registry with every type published under the ``plait.nodes`` entry-point group."""
        reg = cls()
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            register = ep.load()
            register(reg)
        return reg
