"""A small dotted-path resolver for values that are not in the node scope.

The engine's ``ctx.lookup`` resolves paths against the node scope (``trigger``, node ids ...).
The ``filter`` node needs the same path syntax against each list element, and nodes may not
import ``workspace.expressions``, so this module re-implements the (tiny) grammar:
``a.b[0].c``, ``a['key with spaces']``, ``items.0`` (numeric segment on a list).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from workspace.errors import NodeError

_TOKEN = re.compile(
    r"\s*(?:([A-Za-z_][A-Za-z0-9_\-]*|\d+)|\[\s*(-?\d+)\s*\]|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\])"
)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final[Any] = _Missing()


def parse_path(path: str) -> list[str | int]:
    """``a.b[0]['c d']`` → ``["a", "b", 0, "c d"]``; raises NodeError(code="bad_path")."""
    text = path.strip()
    if not text:
        raise NodeError("empty path", code="bad_path", retryable=False)
    parts: list[str | int] = []
    pos = 0
    expect_name = True
    while pos < len(text):
        if text[pos] == "." and not expect_name:
            pos += 1
            expect_name = True
            continue
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise NodeError(
                f"bad path {path!r} at position {pos}", code="bad_path", retryable=False
            )
        name, idx, sq, dq = m.groups()
        if name is not None:
            if not expect_name:
                raise NodeError(
                    f"bad path {path!r}: missing '.' before {name!r}",
                    code="bad_path",
                    retryable=False,
                )
            parts.append(name)
        elif idx is not None:
            parts.append(int(idx))
        else:
            parts.append(sq if sq is not None else dq)
        expect_name = False
        pos = m.end()
    if expect_name:
        raise NodeError(f"bad path {path!r}: ends with '.'", code="bad_path", retryable=False)
    return parts


def _step(value: Any, key: str | int) -> Any:
    if isinstance(value, Mapping):
        if key in value:
            return value[key]
        return value.get(str(key), MISSING)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if isinstance(key, str):
            if not key.isdigit():
                return MISSING
            key = int(key)
        try:
            return value[key]
        except IndexError:
            return MISSING
    return MISSING


def lookup_in(value: Any, path: str | list[str | int]) -> Any:
    """Resolve ``path`` inside ``value``; returns :data:`MISSING` when any part is absent."""
    parts = parse_path(path) if isinstance(path, str) else path
    for key in parts:
        value = _step(value, key)
        if value is MISSING:
            return MISSING
    return value


def strip_braces(path: str) -> str:
    """Accept ``"{{ trigger.x }}"`` where a plain path is expected (a common slip)."""
    text = path.strip()
    if text.startswith("{{") and text.endswith("}}"):
        return text[2:-2].strip()
    return text


def as_output(value: Any) -> dict[str, Any]:
    """A dict stays the output as-is; anything else becomes ``{"output": value}``."""
    return value if isinstance(value, dict) else {"output": value}
