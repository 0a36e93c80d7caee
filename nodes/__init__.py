"""Built-in node types. ``register(registry)`` is the ``plait.nodes`` entry point."""

from __future__ import annotations

from workspace.sdk import NodeRegistry


def register(registry: NodeRegistry) -> None:
    from nodes.catalog import BUILTIN_TYPES

    for node_type in BUILTIN_TYPES:
        registry.register(node_type)
