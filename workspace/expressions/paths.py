"""Dotted routing paths with list indexes: ``trigger.payload.items[0].id``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

_TOKEN = re.compile(
    r"\s*(?:([A-Za-z_][A-Za-z0-9_\-]*)|\[\s*(-?\d+)\s*\]|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\])"
)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


class PathError(ValueError):
    pass


def parse_path(path: str) -> list[str | int]:
    """``a.b[0]['c d']`` → ``["a", "b", 0, "c d"]``. Raises PathError on bad syntax."""
    parts: list[str | int] = []
    pos = 0
    text = path.strip()
    if not text:
        raise PathError("empty path")
    expect_name = True
    while pos < len(text):
        if text[pos] == "." and not expect_name:
            pos += 1
            expect_name = True
            continue
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise PathError(f"bad path {path!r} at position {pos}")
        name, idx, sq, dq = m.groups()
        if name is not None:
            if not expect_name:
                raise PathError(f"bad path {path!r}: missing '.' before {name!r}")
            parts.append(name)
        elif idx is not None:
            parts.append(int(idx))
        else:
            parts.append(sq if sq is not None else dq)
        expect_name = False
        pos = m.end()
    if expect_name:
        raise PathError(f"bad path {path!r}: ends with '.'")
    return parts


def _step(value: Any, key: str | int) -> Any:
    if isinstance(key, int):
        if isinstance(value, Sequence) and not isinstance(value, str | bytes):
            try:
                return value[key]
            except IndexError:
                return MISSING
        if isinstance(value, Mapping):
            return value.get(key, value.get(str(key), MISSING))
        return MISSING
    if isinstance(value, Mapping):
        return value.get(key, MISSING)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes) and key.isdigit():
        return _step(value, int(key))
    return MISSING


def lookup_path(scope: Mapping[str, Any], path: str, default: Any = MISSING) -> Any:
    """Resolve ``path`` in ``scope``; returns ``default`` (MISSING) when any part is absent."""
    value: Any = scope
    for key in parse_path(path):
        value = _step(value, key)
        if value is MISSING:
            return default
    return value


def has_path(scope: Mapping[str, Any], path: str) -> bool:
    return lookup_path(scope, path) is not MISSING
