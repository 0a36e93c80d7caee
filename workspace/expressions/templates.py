"""Sandboxed Jinja2 rendering.

* ``ImmutableSandboxedEnvironment`` + ``StrictUndefined``: unknown names fail, unsafe attribute
  access raises :class:`~workspace.errors.SecurityError`.
* A string that is exactly one ``{{ expression }}`` keeps its type (list stays list).
* Mixed text renders to a string.
* Every error names the node, the config field and the cause; nothing passes through raw.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError as JinjaSecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from workspace.errors import ExpressionError, SecurityError

_SINGLE = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.DOTALL)
_MARKERS = ("{{", "{%", "{#")


def is_template(value: object) -> bool:
    return isinstance(value, str) and any(m in value for m in _MARKERS)


def is_single_expression(value: str) -> bool:
    m = _SINGLE.match(value)
    return bool(m) and "{{" not in m.group("expr") and "}}" not in m.group("expr")  # type: ignore[union-attr]


class _Env(ImmutableSandboxedEnvironment):
    """Dict keys win over attributes: ``{{ fetch.items }}`` is the key, not ``dict.items``."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _new_env() -> ImmutableSandboxedEnvironment:
    env = _Env(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["tojson"] = _tojson
    return env


def _tojson(value: Any, indent: int | None = None) -> str:
    import json

    return json.dumps(value, indent=indent, default=str, ensure_ascii=False)


def template_syntax_error(value: str) -> str | None:
    """The syntax problem of a template string, or None if it compiles."""
    env = _new_env()
    try:
        m = _SINGLE.match(value)
        if m and is_single_expression(value):
            env.compile_expression(m.group("expr"))
        else:
            env.parse(value)
    except jinja2.TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message}"
    return None


class Expressions:
    """A reusable renderer; compiled templates are cached per source string."""

    def __init__(self, cache_size: int = 1024) -> None:
        self._env = _new_env()
        self._cache: dict[str, Any] = {}
        self._cache_size = cache_size

    def _compiled(self, source: str) -> tuple[bool, Any]:
        hit = self._cache.get(source)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        m = _SINGLE.match(source)
        if m and is_single_expression(source):
            compiled: tuple[bool, Any] = (
                True,
                self._env.compile_expression(m.group("expr"), undefined_to_none=False),
            )
        else:
            compiled = (False, self._env.from_string(source))
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[source] = compiled
        return compiled

    def render_string(
        self, source: str, scope: Mapping[str, Any], *, node_id: str = "", field: str = ""
    ) -> Any:
        where = _where(node_id, field)
        try:
            single, compiled = self._compiled(source)
            if single:
                value = compiled(**scope)
                if isinstance(value, jinja2.Undefined):
                    value._fail_with_undefined_error()
                return value
            return compiled.render(**scope)
        except JinjaSecurityError as exc:
            raise SecurityError(
                f"{where}: sandbox refused the template: {exc}",
                node_id=node_id or None,
                field=field or None,
            ) from None
        except jinja2.UndefinedError as exc:
            raise ExpressionError(
                f"{where}: {exc.message}", node_id=node_id or None, field=field or None
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise ExpressionError(
                f"{where}: template syntax error: {exc.message}",
                node_id=node_id or None,
                field=field or None,
            ) from None
        except (
            TypeError,
            ValueError,
            ZeroDivisionError,
            AttributeError,
            KeyError,
            IndexError,
            OverflowError,
        ) as exc:
            raise ExpressionError(
                f"{where}: {type(exc).__name__}: {exc}",
                node_id=node_id or None,
                field=field or None,
            ) from None

    def render(
        self,
        value: Any,
        scope: Mapping[str, Any],
        *,
        node_id: str = "",
        field: str = "",
        raw_fields: frozenset[str] = frozenset(),
    ) -> Any:
        """Render templates anywhere inside ``value`` (dicts and lists recursively).

        ``raw_fields`` names top-level keys of a dict ``value`` to leave untouched.
        """
        if isinstance(value, str):
            if not is_template(value):
                return value
            return self.render_string(value, scope, node_id=node_id, field=field)
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                sub = f"{field}.{k}" if field else str(k)
                out[k] = (
                    v
                    if (not field and k in raw_fields)
                    else self.render(v, scope, node_id=node_id, field=sub)
                )
            return out
        if isinstance(value, list | tuple):
            return [
                self.render(v, scope, node_id=node_id, field=f"{field}[{i}]")
                for i, v in enumerate(value)
            ]
        return value


def _where(node_id: str, field: str) -> str:
    if node_id and field:
        return f"node {node_id!r}, field {field!r}"
    if node_id:
        return f"node {node_id!r}"
    if field:
        return f"field {field!r}"
    return "expression"
