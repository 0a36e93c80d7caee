"""A safe arithmetic evaluator for the ``calculator`` node: an AST walker, never ``eval``.

Allowed: int/float literals, ``+ - * / // % **`` (``^`` means power), unary ``+ -``,
parentheses, the constants ``pi``, ``e``, ``tau`` and calls of the whitelisted math functions.
Everything else (attributes, subscripts, strings, other names, lambdas, comprehensions ...) is
rejected. Sizes are bounded so an expression cannot eat the worker: expression length, nesting
depth, integer powers (exponent and result bits), factorial argument, result magnitude.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

MAX_LENGTH = 2000
MAX_DEPTH = 50
MAX_EXPONENT = 10_000
MAX_INT_BITS = 100_000
MAX_FACTORIAL = 1000

Number = int | float


class MathError(ValueError):
    """The expression is not allowed or cannot be evaluated."""


def _factorial(n: Number) -> int:
    if isinstance(n, float):
        if not n.is_integer():
            raise MathError("factorial needs an integer")
        n = int(n)
    if n > MAX_FACTORIAL:
        raise MathError(f"factorial argument larger than {MAX_FACTORIAL}")
    return math.factorial(n)


def _pow(base: Number, exp: Number) -> Number:
    big = isinstance(base, int) and isinstance(exp, int) and abs(base) > 1
    if big and (abs(exp) > MAX_EXPONENT or abs(int(base)).bit_length() * exp > MAX_INT_BITS):
        raise MathError(f"power too large (integer exponents up to {MAX_EXPONENT})")
    result = base**exp
    if isinstance(result, complex):
        raise MathError("result is a complex number")
    return result


CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}

FUNCTIONS: dict[str, Callable[..., Number]] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "pow": _pow,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "atan2": math.atan2,
    "hypot": math.hypot,
    "degrees": math.degrees,
    "radians": math.radians,
    "floor": math.floor,
    "ceil": math.ceil,
    "trunc": math.trunc,
    "factorial": _factorial,
}

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Number]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


def _check(value: Number) -> Number:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise MathError("result too large")
    return value


def _eval(node: ast.AST, depth: int) -> Number:
    if depth > MAX_DEPTH:
        raise MathError("expression nested too deeply")
    if isinstance(node, ast.Expression):
        return _eval(node.body, depth + 1)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise MathError(f"unsupported literal {node.value!r}")
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left, depth + 1), _eval(node.right, depth + 1)
        return _check(_BINOPS[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand, depth + 1))
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise MathError(f"unknown name {node.id!r}")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise MathError("only calls of the allowed math functions are permitted")
        if node.keywords:
            raise MathError("keyword arguments are not supported")
        args = [_eval(a, depth + 1) for a in node.args]
        return _check(FUNCTIONS[node.func.id](*args))
    raise MathError(f"unsupported syntax: {type(node).__name__}")


def evaluate(expression: str) -> Number:
    """Evaluate ``expression``; raises :class:`MathError` for anything not allowed/defined."""
    text = expression.strip()
    if not text:
        raise MathError("empty expression")
    if len(text) > MAX_LENGTH:
        raise MathError(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise MathError(f"syntax error: {exc.msg}") from None
    try:
        result = _eval(tree, 0)
    except MathError:
        raise
    except (ZeroDivisionError, OverflowError, ValueError, TypeError) as exc:
        raise MathError(f"{type(exc).__name__}: {exc}") from None
    except RecursionError:
        raise MathError("expression nested too deeply") from None
    if isinstance(result, float) and not math.isfinite(result):
        raise MathError("result is not a finite number")
    return result
