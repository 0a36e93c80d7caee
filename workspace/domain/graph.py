"""The workflow graph: nodes, edges and their kinds (SPEC §2)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workspace.domain.canonical import canonical_json, content_hash

NODE_ID_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
#: ids a node may not take: the names expressions bind (a node called ``run`` would be hidden
#: by the run's own variable; ``revision`` is the feedback of a revision round, SPEC §4.5)
RESERVED_NODE_IDS = frozenset(
    {"input", "trigger", "outputs", "node_outputs", "loop", "run", "revision"}
)


class DataType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    OBJECT = "object"
    ARRAY = "array"
    MESSAGES = "messages"
    FILE = "file"
    ANY = "any"

    def compatible_with(self, other: DataType) -> bool:
        """Whether a value of this type may flow into an ``other`` port without a template."""
        if DataType.ANY in (self, other) or self == other:
            return True
        return {self, other} == {DataType.MESSAGES, DataType.ARRAY}


class EdgeKind(StrEnum):
    DATA = "data"
    ROUTE = "route"
    ERROR = "error"
    LOOP_BODY = "loop_body"
    LOOP_RETURN = "loop_return"
    LLM = "llm"
    TOOL = "tool"
    MEMORY = "memory"


ATTACHMENT_KINDS = frozenset({EdgeKind.LLM, EdgeKind.TOOL, EdgeKind.MEMORY})
#: Edge kinds followed when computing what a trigger reaches (SPEC §4.1).
FLOW_KINDS = frozenset(
    {EdgeKind.DATA, EdgeKind.ROUTE, EdgeKind.ERROR, EdgeKind.LOOP_BODY, EdgeKind.LOOP_RETURN}
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Position(_Frozen):
    x: float
    y: float


class RetryPolicy(_Frozen):
    """Per-node retry policy; ``max_attempts`` counts the first try."""

    max_attempts: int = Field(default=1, ge=1, le=100)
    backoff_s: float = Field(default=1.0, ge=0)
    max_backoff_s: float = Field(default=60.0, ge=0)
    jitter: bool = True
    retry_on: tuple[str, ...] = ()  # error codes or exception class names; empty = any retryable

    def delay_for(self, attempt: int) -> float:
        """Backoff (without jitter) before attempt number ``attempt + 1``."""
        return float(min(self.max_backoff_s, self.backoff_s * (2 ** max(0, attempt - 1))))


class JoinSpec(_Frozen):
    """How a node with several incoming branches waits (SPEC §4.4)."""

    mode: Literal["all", "any", "n"] = "all"
    n: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _n_only_for_n(self) -> JoinSpec:
        if (self.mode == "n") != (self.n is not None):
            raise ValueError("join n: K needs mode 'n' and a count")
        return self


class Node(_Frozen):
    id: str
    type: str
    config: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None
    position: Position | None = None
    retry: RetryPolicy | None = None
    timeout_s: float | None = Field(default=None, gt=0)
    join: JoinSpec | None = None

    @field_validator("id")
    @classmethod
    def _valid_id(cls, v: str) -> str:
        if not NODE_ID_RE.match(v) or v.startswith("__"):
            raise ValueError(f"node id {v!r} must match [a-z_][a-z0-9_]* (not starting with __)")
        if v in RESERVED_NODE_IDS:
            raise ValueError(f"node id {v!r} is reserved")
        return v


class Edge(_Frozen):
    source: str
    target: str
    source_port: str = "output"
    target_port: str = "input"
    kind: EdgeKind = EdgeKind.DATA
    route: str | None = None

    @model_validator(mode="after")
    def _route_only_on_route_edges(self) -> Edge:
        if self.kind == EdgeKind.ROUTE and not self.route:
            raise ValueError("a route edge needs a route value")
        if self.kind != EdgeKind.ROUTE and self.route is not None:
            raise ValueError(f"only route edges carry a route value (kind {self.kind})")
        return self

    @property
    def key(self) -> tuple[str, str, str, str, str, str]:
        return (
            self.source,
            self.source_port,
            self.target,
            self.target_port,
            self.kind.value,
            self.route or "",
        )


class WorkflowGraph(_Frozen):
    """The executable content of a workflow version (what is hashed and pinned by runs).

    ``settings`` holds workflow-wide options (``durability``, ``timeout_s``, default ``model``,
    ``description``-independent knobs); ``triggers`` is implied by trigger nodes.
    """

    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()
    settings: dict[str, Any] = Field(default_factory=dict)

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def node_map(self) -> dict[str, Node]:
        return {n.id: n for n in self.nodes}

    def outgoing(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.source == node_id]

    def incoming(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.target == node_id]

    def to_canonical(self) -> dict[str, Any]:
        """A JSON-safe dict; edges sorted so that edge order never changes the hash."""
        data = self.model_dump(mode="json", exclude_none=True)
        data["edges"] = sorted(data["edges"], key=lambda e: canonical_json(e))
        return data

    def canonical_json(self) -> str:
        return canonical_json(self.to_canonical())

    def content_hash(self) -> str:
        return content_hash(self.to_canonical())

    @classmethod
    def from_canonical(cls, data: dict[str, Any]) -> WorkflowGraph:
        return cls.model_validate(data)
