"""``replaced``: a changed copy of a domain model on the hot path (events, step records).

``BaseModel.model_copy(update=...)`` costs about 4 µs; a run writes several copies per node
(its step record, its events, the stored events with their ``seq``). This does the same
shallow copy in half the time. Like ``model_copy`` it does NOT validate ``changes``: callers
pass values they already typed (engine-owned fields such as ``seq``, ``ts``, ``status``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["replaced"]

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


def replaced(model: M, changes: dict[str, Any]) -> M:
    """A shallow copy of ``model`` with ``changes`` (field names of ``model``) applied."""
    cls = type(model)
    if cls.model_config.get("extra") == "allow" or model.__pydantic_private__ is not None:
        return model.model_copy(update=changes)  # extra / private state: pydantic's own path
    new = cls.__new__(cls)
    values = model.__dict__.copy()
    values.update(changes)
    _set(new, "__dict__", values)
    _set(new, "__pydantic_fields_set__", model.__pydantic_fields_set__ | changes.keys())
    _set(new, "__pydantic_extra__", None)
    _set(new, "__pydantic_private__", None)
    return new
