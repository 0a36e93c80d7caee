"""AI tests: a scripted mock LLM server on a real port and a workspace whose credential
``mock`` points at it (through the real ChatOpenAI client)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from workspace.mockllm import load_script
from workspace.mockllm.server import MockLLMServer
from workspace.runtime.workspace import Workspace

#: the credential's secret: tests look for it wherever it must never appear
CANARY = "sk-ai-canary-9f8e7d6c5b4a3210"


@pytest.fixture
def llm() -> Iterator[MockLLMServer]:
    with MockLLMServer(
        load_script({"api_key": CANARY, "rules": [{"match": "$^", "content": "-"}]})
    ) as server:
        yield server


def script(llm: MockLLMServer, rules: list[dict[str, Any]], **extra: Any) -> None:
    llm.load(load_script({"api_key": CANARY, "rules": rules, **extra}))


def with_mock(ws: Workspace, llm: MockLLMServer, name: str = "mock") -> Workspace:
    ws.credentials.create(name, "openai", CANARY, base_url=llm.openai_base_url)
    return ws
