"""``AgentMemory``: what a running node may ask of long-term memory (``ctx.memory``).

Facts (``remember`` / ``recall`` / ``forget``, by key) and episodes (``record``) live in a
scope: ``run`` (this run), ``user`` (the run's user — or the user ``identify`` found in this
run — or the ``user`` given), ``workflow`` (this workflow, every run) or ``global`` (every
workflow of the same owner). Another owner's memory is never reachable. Items come back as
dicts (``MemoryItem.public()``: id, kind, scope, key, value, content, tags, updated_at).
Mistakes (an unknown scope, a reserved key, ``user`` scope without a user) raise ``NodeError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

from workspace.domain.run import Run

__all__ = ["AgentMemory", "MemorySource", "ScopeName", "SearchMode"]

ScopeName = Literal["run", "user", "workflow", "global"]
SearchMode = Literal["auto", "keyword", "semantic"]


class AgentMemory(Protocol):
    def remember(
        self,
        key: str,
        value: Any,
        *,
        scope: ScopeName = "user",
        user: str | None = None,
        tags: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Store a fact (replacing the fact with that key in the scope)."""
        ...

    def record(
        self,
        value: Any,
        *,
        scope: ScopeName = "user",
        user: str | None = None,
        tags: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Add an episode."""
        ...

    def recall(
        self, key: str, *, scope: ScopeName = "user", user: str | None = None
    ) -> dict[str, Any] | None: ...

    def forget(self, key: str, *, scope: ScopeName = "user", user: str | None = None) -> bool: ...

    def search(
        self,
        query: str,
        *,
        scopes: Sequence[ScopeName] = ("run", "user", "workflow", "global"),
        kind: Literal["fact", "episode"] | None = None,
        limit: int = 5,
        user: str | None = None,
        mode: SearchMode = "auto",
    ) -> list[dict[str, Any]]:
        """Best matches first, each with a ``score``. ``auto``: by meaning when an embedder
        is configured, else by keywords. The ``user`` scope is skipped when no user is known."""
        ...

    def recent(
        self,
        *,
        scope: ScopeName = "user",
        kind: Literal["fact", "episode"] | None = None,
        limit: int = 5,
        user: str | None = None,
    ) -> list[dict[str, Any]]:
        """The most recently updated items of a scope."""
        ...

    def identify(
        self,
        channel: str,
        external_id: str,
        *,
        user: str | None = None,
        display_name: str | None = None,
        create: bool = True,
    ) -> dict[str, Any]:
        """Map a channel identity to a user: ``user`` links it to that user; else the known
        user, else (``create``) a new one ``<channel>:<external_id>``. The user becomes this
        run's memory user (``user`` scope) from now on — the run's own ``user``, trigger and
        outputs are left as they are. Returns ``{"user_id" (None: unknown, not created),
        "channel", "external_id", "known", "identities": [{channel, external_id}, ...]}``."""
        ...

    def current_user(self) -> str | None:
        """The user the ``user`` scope means now (identified in this run, else the run's)."""
        ...


class MemorySource(Protocol):
    """Gives each node execution its view of memory (implemented by the runtime)."""

    def open(self, run: Run, node_id: str) -> AgentMemory: ...
