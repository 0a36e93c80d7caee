"""``ws.models``: a ModelSpec → a real LangChain client talking to the scripted mock LLM,
with the credential the workflow's owner may use (and only that one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from workspace.errors import ValidationError
from workspace.mockllm import load_script
from workspace.mockllm.server import MockLLMServer
from workspace.runtime.workspace import Workspace

KEY = "sk-model-service-canary-1"


@pytest.fixture
def llm() -> Iterator[MockLLMServer]:
    script = load_script(
        {
            "api_key": KEY,
            "rules": [
                {
                    "match": "ping",
                    "content": "pong",
                    "usage": {"prompt_tokens": 3, "completion_tokens": 1},
                }
            ],
        }
    )
    with MockLLMServer(script) as server:
        yield server


def test_both_providers_answer_through_their_real_clients(
    mem_ws: Workspace, llm: MockLLMServer
) -> None:
    mem_ws.credentials.create(
        "oa", "openai", KEY, base_url=llm.openai_base_url, params={"model": "gpt-4o-mini"}
    )
    mem_ws.credentials.create("an", "anthropic", KEY, base_url=llm.anthropic_base_url)
    chat = mem_ws.models.chat({"credential": "oa", "temperature": 0}, owner=None)
    assert chat.described["model"] == "gpt-4o-mini" and chat.context_window == 128_000
    msg = chat.client.invoke("ping")
    assert msg.content == "pong" and msg.usage_metadata["input_tokens"] == 3
    assert chat.price(1_000_000, 1_000_000) == 0.75
    chat = mem_ws.models.chat({"capability": "claude-haiku-4-5", "max_tokens": 20}, owner=None)
    assert chat.described["credential"] == "an"
    assert chat.client.invoke("ping").content == "pong"
    streaming = mem_ws.models.chat({"credential": "oa"}, owner=None, streaming=True)
    streamed = "".join(str(c.content) for c in streaming.client.stream("ping"))
    assert streamed == "pong"
    sent = [r.model for r in llm.requests()]
    assert sent == ["gpt-4o-mini", "claude-haiku-4-5", "gpt-4o-mini"]


def test_owners_reach_only_their_own_and_shared_credentials(
    mem_ws: Workspace, llm: MockLLMServer
) -> None:
    creds = mem_ws.credentials
    creds.create(
        "alice-llm",
        "openai",
        KEY,
        base_url=llm.openai_base_url,
        owner="alice",
        params={"model": "gpt-4o"},
    )
    creds.create(
        "shared",
        "anthropic",
        KEY,
        base_url=llm.anthropic_base_url,
        params={"model": "claude-haiku-4-5"},
    )
    creds.create("hook", "token", "not-an-llm-secret")
    assert [r.name for r in mem_ws.models.reach("alice")] == ["alice-llm", "shared"]
    assert [r.name for r in mem_ws.models.reach("bob")] == ["shared"]
    with pytest.raises(ValidationError) as err:
        mem_ws.models.chat({"credential": "alice-llm"}, owner="bob")
    assert err.value.code == "no_model" and "available: shared (anthropic)" in err.value.message
    assert (
        mem_ws.models.resolve(
            {"inherit": True}, owner="bob", default={"credential": "shared"}
        ).model_name
        == "claude-haiku-4-5"
    )
