"""Plait: notebook- and chat-first workspace for LLM agent workflows.

``from workspace import Workspace`` is the public facade. Importing this package has no side
effects; the facade module is imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workspace.runtime.workspace import RunHandle, Workspace

__all__ = ["RunHandle", "Workspace"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from workspace.runtime import workspace as _facade

        return getattr(_facade, name)
    raise AttributeError(name)
