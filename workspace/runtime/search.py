"""Web search backends for ``web_search`` nodes. ``SearxngSearch``: a SearXNG server's JSON
API (``GET <url>/search?q=...&format=json``; the server must enable the ``json`` format)."""

from __future__ import annotations

from typing import Any

import httpx

from workspace.errors import NodeError
from workspace.settings import Settings

__all__ = ["SearxngSearch", "web_search_backend"]


def web_search_backend(settings: Settings) -> SearxngSearch | None:
    """The backend the settings name (``tools.searxng_url``), else None."""
    url = settings.tools.searxng_url
    return SearxngSearch(url, timeout_s=settings.tools.search_timeout_s) if url else None


class SearxngSearch:
    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    @property
    def name(self) -> str:
        return f"searxng {self.url}"

    def search(
        self, query: str, *, max_results: int, language: str | None = None
    ) -> list[dict[str, Any]]:
        params = {"q": query, "format": "json"}
        if language:
            params["language"] = language
        try:
            response = httpx.get(f"{self.url}/search", params=params, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise NodeError(
                f"the search backend {self.name} is not reachable: {type(exc).__name__}: {exc}",
                code="search_failed",
                retryable=True,
            ) from None
        if response.status_code != 200:
            raise NodeError(
                f"the search backend {self.name} answered {response.status_code}"
                + (" (is the json format enabled?)" if response.status_code == 403 else ""),
                code="search_failed",
                retryable=response.status_code >= 500 or response.status_code == 429,
                status=response.status_code,
            )
        try:
            body = response.json()
            raw = body["results"]
            if not isinstance(raw, list):
                raise TypeError("results is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            raise NodeError(
                f"the search backend {self.name} sent no JSON results: {exc}",
                code="search_failed",
                retryable=False,
            ) from None
        results = []
        for hit in raw[:max_results]:
            if not isinstance(hit, dict) or not hit.get("url"):
                continue
            results.append(
                {
                    "title": str(hit.get("title") or ""),
                    "url": str(hit["url"]),
                    "snippet": str(hit.get("content") or ""),
                    "engine": hit.get("engine"),
                }
            )
        return results
