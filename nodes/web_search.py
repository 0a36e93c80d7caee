"""The ``web_search`` tool: a query to the workspace's search backend (``ctx.web_search``:
SearXNG by URL, or whatever backend the runtime was given)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workspace.domain import DataType
from workspace.errors import NodeError
from workspace.sdk import NodeContext, NodeType, Port


class WebSearchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(default="", description="What to search the web for.")
    max_results: int = Field(default=5, ge=1, le=50, description="Most results returned.")
    language: str | None = Field(default=None, description="Language code, e.g. `en`.")


class WebSearch(NodeType):
    """Search the web (pluggable backend, e.g. a SearXNG server). Output:
    `{"output": [{"title", "url", "snippet"}, ...], "count": n}`."""

    name = "web_search"
    category = "tool"
    Config = WebSearchConfig
    content_fields = ("query",)
    outputs = (
        Port(name="output", type=DataType.ARRAY, description="the results, best first"),
        Port(name="count", type=DataType.NUMBER, description="how many"),
    )

    def execute(self, ctx: NodeContext, config: WebSearchConfig, input: Any) -> dict[str, Any]:
        query = config.query.strip() or (input.strip() if isinstance(input, str) else "")
        if not query:
            raise NodeError("web_search has no query", code="missing_query", retryable=False)
        results = ctx.web_search.search(
            query, max_results=config.max_results, language=config.language
        )
        return {
            "output": results[: config.max_results],
            "count": len(results[: config.max_results]),
        }
