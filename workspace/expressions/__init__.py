"""Sandboxed Jinja2 expressions and dotted routing paths (SPEC §4.3)."""

from workspace.expressions.paths import MISSING, PathError, has_path, lookup_path, parse_path
from workspace.expressions.templates import (
    Expressions,
    is_single_expression,
    is_template,
    template_syntax_error,
)

__all__ = [
    "MISSING",
    "Expressions",
    "PathError",
    "has_path",
    "is_single_expression",
    "is_template",
    "lookup_path",
    "parse_path",
    "template_syntax_error",
]
