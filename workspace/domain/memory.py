"""Long-term memory of agents and workflows (SPEC §3 Memory, §7): facts and episodes in
scopes, keyword search, optional embeddings; channel identities mapped to users.

* A **fact** has a ``key`` and a ``value``; writing the same key again in the same place
  replaces it (keeping its id and ``created_at``).
* An **episode** is something that happened (a conversation turn, an outcome); it has no key
  and every write adds one.
* Every item lives at a :class:`MemoryAddress`: a ``space`` (the owner of the workflow that
  wrote it: one owner never sees another's memory), a :class:`MemoryScope` and the scope's
  key: the run id (``run``), the user id (``user``), the workflow id (``workflow``), or ``""``
  (``global``: every workflow of the same owner).

Search is by keywords (:func:`search_terms`, ranked by :func:`rank`: how many distinct terms
an item contains, then the newest), or by vector similarity when an :class:`Embedder` is
configured (:func:`cosine`). Both stores rank with these same functions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workspace.domain.workflow import new_id, utcnow

__all__ = [
    "RESERVED_KEY_PREFIX",
    "Identity",
    "MemoryAddress",
    "MemoryItem",
    "MemoryKind",
    "MemoryScope",
    "content_of",
    "cosine",
    "rank",
    "search_terms",
    "search_text",
]

#: keys the platform keeps for itself (e.g. the user a run identified); users cannot write them
RESERVED_KEY_PREFIX = "plait:"

#: words too common to find anything with
_STOPWORD_TEXT = (
    "a an and are as at be by do does for from has have how i in is it its me my of on or our "
    "so that the their them they this to was we were what when where which who why will with "
    "you your "
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"\w+", re.UNICODE)


class MemoryScope(StrEnum):
    RUN = "run"
    USER = "user"
    WORKFLOW = "workflow"
    GLOBAL = "global"


class MemoryKind(StrEnum):
    FACT = "fact"
    EPISODE = "episode"


@dataclass(frozen=True)
class MemoryAddress:
    """Where an item lives: owner space, scope, and the scope's key."""

    space: str
    scope: MemoryScope
    scope_key: str


class MemoryItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_id)
    space: str = ""
    scope: MemoryScope
    scope_key: str = ""
    kind: MemoryKind = MemoryKind.FACT
    #: facts: the key (unique at the address); episodes: None
    key: str | None = None
    value: Any = None
    #: the text searched and shown (the value as text)
    content: str = ""
    tags: tuple[str, ...] = ()
    #: the vector of ``content`` when an embedder is configured
    embedding: tuple[float, ...] | None = None
    source_run: str | None = None
    source_node: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @field_validator("key")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        if v is not None and not (1 <= len(v) <= 200):
            raise ValueError("a memory key has 1 to 200 characters")
        return v

    @property
    def address(self) -> MemoryAddress:
        return MemoryAddress(self.space, self.scope, self.scope_key)

    def public(self) -> dict[str, Any]:
        """What a node returns about the item (no space, no vector)."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "scope": self.scope.value,
            "key": self.key,
            "value": self.value,
            "content": self.content,
            "tags": list(self.tags),
            "updated_at": self.updated_at.isoformat(),
        }


class Identity(BaseModel):
    """A channel identity (``telegram`` / ``123456``) known as ``user_id`` in an owner space."""

    model_config = ConfigDict(extra="forbid")

    space: str = ""
    channel: str = Field(min_length=1, max_length=100)
    external_id: str = Field(min_length=1, max_length=300)
    user_id: str = Field(min_length=1, max_length=300)
    display_name: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


def content_of(value: Any) -> str:
    """The searchable text of a value: a string as is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def search_text(item: MemoryItem) -> str:
    """Lower-case text the keyword search looks in: key, content and tags."""
    return " ".join([item.key or "", item.content, *item.tags]).lower()


def search_terms(query: str) -> list[str]:
    """The distinct lower-case words of ``query`` worth searching for (no stop words; a
    query of stop words only keeps them)."""
    words = [w.lower() for w in _WORD.findall(query)]
    kept = [w for w in words if w not in _STOPWORDS] or words
    return list(dict.fromkeys(kept))


def rank(
    items: Sequence[MemoryItem], terms: Sequence[str], limit: int
) -> list[tuple[MemoryItem, float]]:
    """Items containing at least one term, best first: the share of terms found (a term in
    the key counts double), then the most recently updated, then the id."""
    scored: list[tuple[MemoryItem, float]] = []
    for item in items:
        text = search_text(item)
        key = (item.key or "").lower()
        hits = sum(1 for t in terms if t in text)
        if not hits:
            continue
        bonus = sum(1 for t in terms if t in key)
        scored.append((item, round((hits + bonus) / (2 * len(terms)), 6)))
    scored.sort(key=lambda p: (-p[1], -p[0].updated_at.timestamp(), p[0].id))
    return scored[:limit]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity (0 when either vector is zero or their sizes differ)."""
    if len(a) != len(b) or not a:
        return 0.0
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return 0.0 if na == 0 or nb == 0 else dot / (na * nb)
