"""The one exception tree of Plait.

Every error a user can see carries a stable machine-readable ``code``. The tree is small on
purpose::

    PlaitError                      code: "error"
    ├── ConfigurationError          settings or environment are wrong ("configuration_error")
    ├── ValidationError             input does not satisfy a contract ("validation_error");
    │   └── DSLError                a DSL document has problems, all in ``problems`` ("dsl_invalid")
    ├── NotFoundError               a workflow, version or run does not exist ("not_found")
    ├── ConflictError               a state change that is not allowed now ("conflict")
    │   └── InvalidTransition       a run status transition outside the state machine
    ├── StoreError                  the database (or Redis) failed underneath us ("store_error")
    ├── UpstreamError               a service Plait called (an LLM provider, ...) refused or
    │                               failed ("upstream_error"; ``status`` when it answered)
    ├── AccessDenied                no or bad credentials ("unauthorized"), or not yours
    │                               ("forbidden"); also bad webhook signatures
    └── NodeError                   a node failed while running ("node_failed")
        ├── ExpressionError         a template could not be rendered ("expression_error")
        │   └── SecurityError       a sandbox refused an operation ("security_error")
        ├── NodeTimeout             a node or run exceeded its time limit ("timeout")
        └── SandboxError            the code sandbox could not run the snippet ("sandbox_error")

Control-flow signals (a human interrupt, a retry, a cancellation) are not errors and do not
derive from ``PlaitError``; they live in :mod:`workspace.sdk.signals`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ConfigurationError",
    "ConflictError",
    "DSLError",
    "ExpressionError",
    "InvalidTransition",
    "NodeError",
    "NodeTimeout",
    "NotFoundError",
    "PlaitError",
    "Problem",
    "SandboxError",
    "SecurityError",
    "StoreError",
    "UpstreamError",
    "ValidationError",
]


class PlaitError(Exception):
    """Root of every error Plait raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description, as shown to users and stored in step records."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


class ConfigurationError(PlaitError):
    code = "configuration_error"


class ValidationError(PlaitError):
    code = "validation_error"


@dataclass(frozen=True)
class Problem:
    """One problem found in a DSL document or a graph, with where it is."""

    message: str
    code: str
    path: str = ""
    line: int | None = None
    column: int | None = None
    severity: str = "error"  # "error" | "warning"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "code": self.code,
        }

    def render(self, filename: str = "<dsl>") -> str:
        where = filename
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        path = f" {self.path}:" if self.path else ""
        return f"{where}:{path} {self.message} [{self.code}]"


class DSLError(ValidationError):
    """A DSL document (or graph) has one or more problems; all of them are in ``problems``."""

    code = "dsl_invalid"

    def __init__(self, problems: list[Problem], *, filename: str = "<dsl>") -> None:
        self.problems = problems
        self.filename = filename
        text = "\n".join(p.render(filename) for p in problems)
        super().__init__(text or "invalid workflow")


class NotFoundError(PlaitError):
    code = "not_found"


class ConflictError(PlaitError):
    code = "conflict"


class InvalidTransition(ConflictError):
    code = "invalid_transition"


class StoreError(PlaitError):
    code = "store_error"


class UpstreamError(PlaitError):
    code = "upstream_error"


class AccessDenied(PlaitError):
    """No valid credentials (``unauthorized``) or not allowed (``forbidden``)."""

    code = "unauthorized"


class NodeError(PlaitError):
    """A node failed. Executors raise this (or any exception) to fail; never return error text."""

    code = "node_failed"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        node_id: str | None = None,
        field: str | None = None,
        retryable: bool = True,
        **details: Any,
    ) -> None:
        super().__init__(message, code=code, **details)
        self.node_id = node_id
        self.field = field
        self.retryable = retryable

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.node_id:
            out["node_id"] = self.node_id
        if self.field:
            out["field"] = self.field
        return out


class ExpressionError(NodeError):
    code = "expression_error"

    def __init__(self, message: str, **kw: Any) -> None:
        kw.setdefault("retryable", False)
        super().__init__(message, **kw)


class SecurityError(ExpressionError):
    code = "security_error"


class NodeTimeout(NodeError):
    code = "timeout"


class SandboxError(NodeError):
    code = "sandbox_error"
