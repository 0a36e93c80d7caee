"""``SearchBackend``: web search for the ``web_search`` node (``ctx.web_search``).

Pluggable: the runtime wires one from settings (SearXNG by URL, ``PLAIT_TOOLS__SEARXNG_URL``)
or any object with this method; none is configured by default (machines may be offline).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["SearchBackend"]


class SearchBackend(Protocol):
    @property
    def name(self) -> str: ...

    def search(
        self, query: str, *, max_results: int, language: str | None = None
    ) -> list[dict[str, Any]]:
        """Results best first, each ``{"title", "url", "snippet"}`` (plus backend extras).
        Raises ``NodeError`` (``search_failed``, retryable when the backend is unreachable)."""
        ...
