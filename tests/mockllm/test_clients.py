"""The scripted mock LLM through the real LangChain clients (ChatOpenAI, ChatAnthropic) over
real HTTP: plain answers, streaming, parallel tool calls, tool results, usage, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from workspace.mockllm import load_script
from workspace.mockllm.server import MockLLMServer

SCRIPT = r"""
models: [mock-small, mock-large]
rules:
  - match: '^(?P<a>\d+) ?\+ ?(?P<b>\d+)$'
    role: tool
    content: 'The answer is \g<0>.'
  - match: 'weather in (?P<city>\w+) and (?P<other>\w+)'
    tool_calls:
      - {name: get_weather, arguments: {city: '\g<city>'}, id: call_1}
      - {name: get_weather, arguments: {city: '\g<other>'}, id: call_2}
  - match: "sunny|rain"
    role: tool
    content: "Both forecasts are in."
  - match: 'add (\d+) and (\d+)'
    tool_calls: [{name: add, arguments: {a: '\1', b: '\2'}}]
  - match: "broken call"
    tool_calls: [{name: add, arguments: 'a=1, b=two'}]
  - match: "hello"
    content: "Hello from the scripted mock, friend."
    usage: {prompt_tokens: 11, completion_tokens: 7}
  - match: "flaky"
    times: 1
    error: {status: 429, message: "slow down", retry_after: 0.2}
  - match: "flaky"
    content: "steady now"
  - match: "explode"
    error: {status: 500, message: "scripted outage"}
"""


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return "sunny" if city == "Paris" else "rain"


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@pytest.fixture
def llm_server() -> Iterator[MockLLMServer]:
    with MockLLMServer(load_script(SCRIPT)) as server:
        yield server


Client = Any


@pytest.fixture(params=["openai", "anthropic"])
def client(request: pytest.FixtureRequest, llm_server: MockLLMServer) -> Client:
    if request.param == "openai":
        return ChatOpenAI(
            base_url=llm_server.openai_base_url,
            api_key="sk-test-canary",  # type: ignore[arg-type]
            model="mock-small",
            max_retries=0,
        )
    return ChatAnthropic(
        base_url=llm_server.anthropic_base_url,
        api_key="sk-ant-test-canary",  # type: ignore[arg-type]
        model_name="mock-small",
        max_retries=0,
        timeout=30,
        stop=None,
    )


def test_plain_answer_with_usage(client: Client, llm_server: MockLLMServer) -> None:
    msg = client.invoke("hello there")
    assert msg.content == "Hello from the scripted mock, friend."
    assert msg.usage_metadata["input_tokens"] == 11
    assert msg.usage_metadata["output_tokens"] == 7
    [req] = llm_server.requests()
    assert req.rule == 5 and req.status == 200 and req.model == "mock-small"
    assert req.key is not None and req.key.startswith("sha256:")
    assert "canary" not in str(req.to_dict()["key"])


def test_streaming_arrives_in_pieces_and_in_order(client: Client) -> None:
    pieces = [chunk.content for chunk in client.stream("hello")]
    texts = [p if isinstance(p, str) else "".join(b.get("text", "") for b in p) for p in pieces]
    assert "".join(texts) == "Hello from the scripted mock, friend."
    assert len([t for t in texts if t]) >= 4  # 8-character pieces, not one blob


def test_parallel_tool_calls_then_the_tool_results(client: Client) -> None:
    bound = client.bind_tools([get_weather])
    question = HumanMessage("What is the weather in Paris and Oslo?")
    first = bound.invoke([question])
    assert isinstance(first, AIMessage)
    assert [(c["name"], c["args"], c["id"]) for c in first.tool_calls] == [
        ("get_weather", {"city": "Paris"}, "call_1"),
        ("get_weather", {"city": "Oslo"}, "call_2"),
    ]
    results = [
        ToolMessage(get_weather.invoke(c["args"]), tool_call_id=c["id"]) for c in first.tool_calls
    ]
    second = bound.invoke([question, first, *results])
    assert second.content == "Both forecasts are in."


def test_streamed_tool_call_arguments_are_reassembled(client: Client) -> None:
    bound = client.bind_tools([add])
    merged = None
    for chunk in bound.stream("please add 20 and 22"):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None
    assert [(c["name"], c["args"]) for c in merged.tool_calls] == [("add", {"a": "20", "b": "22"})]


def test_a_malformed_tool_call_is_reported_as_invalid(client: Client) -> None:
    """(Anthropic's API only sends malformed tool input while streaming: its non-streamed
    `input` is always an object. OpenAI sends argument text either way.)"""
    merged = None
    for chunk in client.bind_tools([add]).stream("a broken call please"):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None
    assert merged.tool_calls == []
    assert [c["name"] for c in merged.invalid_tool_calls] == ["add"]
    if isinstance(client, ChatOpenAI):
        msg = client.bind_tools([add]).invoke("a broken call please")
        assert msg.tool_calls == []
        assert [c["name"] for c in msg.invalid_tool_calls] == ["add"]


def test_unmatched_requests_get_a_clear_error(client: Client, llm_server: MockLLMServer) -> None:
    with pytest.raises((openai.BadRequestError, anthropic.BadRequestError)) as err:
        client.invoke("something nobody scripted")
    assert "no rule of the script matches" in str(err.value)
    assert "something nobody scripted" in str(err.value)
    assert llm_server.requests()[-1].status == 400


def test_scripted_errors_carry_status_and_retry_after(client: Client) -> None:
    with pytest.raises((openai.RateLimitError, anthropic.RateLimitError)) as err:
        client.invoke("flaky")
    assert err.value.response.headers["retry-after"] == "0.2"
    assert client.invoke("flaky").content == "steady now"  # `times: 1` is used up
    with pytest.raises((openai.InternalServerError, anthropic.InternalServerError)):
        client.invoke("explode")


def test_the_client_retry_honours_retry_after(llm_server: MockLLMServer) -> None:
    llm = ChatOpenAI(
        base_url=llm_server.openai_base_url,
        api_key="k",  # type: ignore[arg-type]
        model="mock-small",
        max_retries=2,
    )
    assert llm.invoke("flaky").content == "steady now"
    assert [r.status for r in llm_server.requests()] == [429, 200]


def test_a_script_api_key_is_enforced() -> None:
    script = load_script({"api_key": "right", "rules": [{"match": ".", "content": "ok"}]})
    with MockLLMServer(script) as server:
        wrong = ChatOpenAI(
            base_url=server.openai_base_url,
            api_key="wrong",  # type: ignore[arg-type]
            model="m",
            max_retries=0,
        )
        with pytest.raises(openai.AuthenticationError):
            wrong.invoke("hi")
        bad = ChatAnthropic(
            base_url=server.anthropic_base_url,
            api_key="wrong",  # type: ignore[arg-type]
            model_name="m",
            max_retries=0,
            timeout=30,
            stop=None,
        )
        with pytest.raises(anthropic.AuthenticationError):
            bad.invoke("hi")
        right = ChatOpenAI(
            base_url=server.openai_base_url,
            api_key="right",  # type: ignore[arg-type]
            model="m",
            max_retries=0,
        )
        assert right.invoke("hi").content == "ok"


def test_models_are_listed_for_both_apis(llm_server: MockLLMServer) -> None:
    oa = openai.OpenAI(base_url=llm_server.openai_base_url, api_key="k")
    assert [m.id for m in oa.models.list()] == ["mock-small", "mock-large"]
    an = anthropic.Anthropic(base_url=llm_server.anthropic_base_url, api_key="k")
    assert [m.id for m in an.models.list()] == ["mock-small", "mock-large"]
