"""Comparison operators shared by ``switch``, ``assertion`` and ``filter``.

Every operator is a function ``(left, right, ci) -> bool`` where ``left`` is the value found at
the rule's ``field``, ``right`` the rule's (rendered) ``value`` and ``ci`` whether string
comparisons ignore case. :data:`OPERATORS` is the table the rule evaluator dispatches on.

Semantics (documented in nodes/README.md):

* Numbers: when BOTH sides parse as numbers (ints, floats, or strings such as ``"42"``,
  ``" -1.5e3 "``; booleans are not numbers), comparison is numeric: ``"10" gt 9`` is true.
* Strings: compared as strings (case-folded when ``ci``). Ordering operators on values that are
  neither both numbers nor both strings are false (never a TypeError).
* ``contains``: substring for strings, element equality for lists, key presence for dicts.
* ``in`` / ``not_in``: ``value`` is a list (element equality) or a string (substring).
* ``between``: ``value`` is ``[lo, hi]``, inclusive on both ends.
* ``is_empty``: None, a blank string, an empty list/dict. ``is_true``/``is_false`` accept
  booleans, 1/0 and the strings true/false, yes/no, y/n, on/off, 1/0.
* ``exists``: the path is present and its value is not None.
* ``length_*``: length of a string, list or dict; other values never match.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from workspace.errors import NodeError

_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}

Operator = Callable[[Any, Any, bool], bool]

#: operators that take no ``value``
UNARY = frozenset({"is_empty", "is_not_empty", "is_true", "is_false", "exists", "not_exists"})
#: operators that are evaluated even when the field path is missing
MISSING_OK = frozenset({"exists", "not_exists", "is_empty", "is_not_empty"})

#: spellings accepted for operators (``==`` → ``equals`` ...)
OPERATOR_ALIASES = {
    "==": "equals",
    "eq": "equals",
    "equal": "equals",
    "!=": "not_equals",
    "ne": "not_equals",
    "neq": "not_equals",
    ">": "gt",
    ">=": "gte",
    "<": "lt",
    "<=": "lte",
    "regex": "matches",
    "startswith": "starts_with",
    "endswith": "ends_with",
    "not_empty": "is_not_empty",
    "empty": "is_empty",
    "length_equals": "length_eq",
}


def as_number(value: Any) -> float | int | None:
    """The value as a number, or None. Booleans are not numbers; NaN is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, str) and _NUMBER.match(value):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            return float(text)
    return None


def _fold(value: Any, ci: bool) -> Any:
    return value.casefold() if ci and isinstance(value, str) else value


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def equals(left: Any, right: Any, ci: bool) -> bool:
    ln, rn = as_number(left), as_number(right)
    if ln is not None and rn is not None:
        return ln == rn
    if isinstance(left, bool) or isinstance(right, bool):
        if isinstance(left, bool) and isinstance(right, bool):
            return left == right
        lb = _as_bool(left)
        return lb is not None and lb is _as_bool(right)
    if isinstance(left, str) and isinstance(right, str):
        return bool(_fold(left, ci) == _fold(right, ci))
    if isinstance(left, Sequence) and isinstance(right, Sequence):
        if isinstance(left, str | bytes) or isinstance(right, str | bytes):
            return False
        return len(left) == len(right) and all(
            equals(a, b, ci) for a, b in zip(left, right, strict=True)
        )
    return bool(left == right)


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def contains(left: Any, right: Any, ci: bool) -> bool:
    if isinstance(left, str):
        needle = _text(right)
        return needle is not None and _fold(needle, ci) in _fold(left, ci)
    if isinstance(left, Mapping):
        return any(equals(k, right, ci) for k in left)
    if isinstance(left, Sequence) and not isinstance(left, bytes):
        return any(equals(item, right, ci) for item in left)
    return False


def starts_with(left: Any, right: Any, ci: bool) -> bool:
    lt, rt = _text(left), _text(right)
    return lt is not None and rt is not None and _fold(lt, ci).startswith(_fold(rt, ci))


def ends_with(left: Any, right: Any, ci: bool) -> bool:
    lt, rt = _text(left), _text(right)
    return lt is not None and rt is not None and _fold(lt, ci).endswith(_fold(rt, ci))


@lru_cache(maxsize=256)
def _compile(pattern: str, ci: bool) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE if ci else 0)
    except re.error as exc:
        raise NodeError(
            f"bad regular expression {pattern!r}: {exc}", code="bad_regex", retryable=False
        ) from None


def matches(left: Any, right: Any, ci: bool) -> bool:
    pattern = _text(right)
    if pattern is None:
        raise NodeError("'matches' needs a regex string value", code="bad_regex", retryable=False)
    regex = _compile(pattern, ci)
    text = _text(left)
    return text is not None and regex.search(text) is not None


def _ordered(left: Any, right: Any, ci: bool) -> tuple[Any, Any] | None:
    ln, rn = as_number(left), as_number(right)
    if ln is not None and rn is not None:
        return ln, rn
    if isinstance(left, str) and isinstance(right, str):
        return _fold(left, ci), _fold(right, ci)
    return None


def gt(left: Any, right: Any, ci: bool) -> bool:
    pair = _ordered(left, right, ci)
    return pair is not None and pair[0] > pair[1]


def gte(left: Any, right: Any, ci: bool) -> bool:
    pair = _ordered(left, right, ci)
    return pair is not None and pair[0] >= pair[1]


def lt(left: Any, right: Any, ci: bool) -> bool:
    pair = _ordered(left, right, ci)
    return pair is not None and pair[0] < pair[1]


def lte(left: Any, right: Any, ci: bool) -> bool:
    pair = _ordered(left, right, ci)
    return pair is not None and pair[0] <= pair[1]


def between(left: Any, right: Any, ci: bool) -> bool:
    if not isinstance(right, list | tuple) or len(right) != 2:
        raise NodeError(
            f"'between' needs a value [low, high], got {right!r}",
            code="bad_rule_value",
            retryable=False,
        )
    return gte(left, right[0], ci) and lte(left, right[1], ci)


def in_(left: Any, right: Any, ci: bool) -> bool:
    if isinstance(right, str):
        needle = _text(left)
        return needle is not None and _fold(needle, ci) in _fold(right, ci)
    if isinstance(right, Mapping):
        return any(equals(left, k, ci) for k in right)
    if isinstance(right, Sequence) and not isinstance(right, bytes):
        return any(equals(left, item, ci) for item in right)
    raise NodeError(
        f"'in' needs a list or string value, got {type(right).__name__}",
        code="bad_rule_value",
        retryable=False,
    )


def is_empty(left: Any, right: Any, ci: bool) -> bool:
    if left is None:
        return True
    if isinstance(left, str):
        return not left.strip()
    if isinstance(left, Mapping | list | tuple | set):
        return len(left) == 0
    return False


def _length(left: Any, right: Any) -> tuple[int, int] | None:
    n = as_number(right)
    if n is None or int(n) != n:
        raise NodeError(
            f"length operators need an integer value, got {right!r}",
            code="bad_rule_value",
            retryable=False,
        )
    if isinstance(left, str | Mapping | list | tuple):
        return len(left), int(n)
    return None


def length_eq(left: Any, right: Any, ci: bool) -> bool:
    pair = _length(left, right)
    return pair is not None and pair[0] == pair[1]


def length_gt(left: Any, right: Any, ci: bool) -> bool:
    pair = _length(left, right)
    return pair is not None and pair[0] > pair[1]


def length_lt(left: Any, right: Any, ci: bool) -> bool:
    pair = _length(left, right)
    return pair is not None and pair[0] < pair[1]


OPERATORS: dict[str, Operator] = {
    "equals": equals,
    "not_equals": lambda a, b, ci: not equals(a, b, ci),
    "contains": contains,
    "not_contains": lambda a, b, ci: not contains(a, b, ci),
    "starts_with": starts_with,
    "ends_with": ends_with,
    "matches": matches,
    "gt": gt,
    "gte": gte,
    "lt": lt,
    "lte": lte,
    "between": between,
    "in": in_,
    "not_in": lambda a, b, ci: not in_(a, b, ci),
    "is_empty": is_empty,
    "is_not_empty": lambda a, b, ci: not is_empty(a, b, ci),
    "is_true": lambda a, b, ci: _as_bool(a) is True,
    "is_false": lambda a, b, ci: _as_bool(a) is False,
    "exists": lambda a, b, ci: a is not None,
    "not_exists": lambda a, b, ci: a is None,
    "length_eq": length_eq,
    "length_gt": length_gt,
    "length_lt": length_lt,
}
