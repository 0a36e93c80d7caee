"""Workflows, their mutable draft and immutable versions (SPEC §2)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workspace.domain.graph import SLUG_RE, WorkflowGraph


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Workflow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_id)
    slug: str
    name: str
    description: str = ""
    tags: tuple[str, ...] = ()
    owner: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @field_validator("slug")
    @classmethod
    def _valid_slug(cls, v: str) -> str:
        if not SLUG_RE.match(v):
            raise ValueError(f"slug {v!r} must match [a-z0-9][a-z0-9-]*")
        return v


class Draft(BaseModel):
    """The mutable working copy of a workflow. ``dsl`` keeps the author's text when there is one."""

    model_config = ConfigDict(extra="forbid")

    workflow_id: str
    graph: WorkflowGraph
    dsl: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    #: who wrote it when not its owner: ``agent:<workflow>.<node>`` for an agent's draft
    author: str | None = None


class Version(BaseModel):
    """An immutable published snapshot; ``number`` is assigned by the repository (1, 2, ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workflow_id: str
    number: int = 0
    graph: WorkflowGraph
    content_hash: str
    dsl: str | None = None
    author: str | None = None
    message: str = ""
    created_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def of(
        cls,
        workflow_id: str,
        graph: WorkflowGraph,
        *,
        dsl: str | None = None,
        author: str | None = None,
        message: str = "",
    ) -> Version:
        return cls(
            workflow_id=workflow_id,
            graph=graph,
            content_hash=graph.content_hash(),
            dsl=dsl,
            author=author,
            message=message,
        )
