"""AI node types against the scripted mock LLM, through the real LangChain clients, on
memory, SQLite and PostgreSQL: Pipelit-style documents with agents, tools, memory,
categorizers and extractors; streaming and tool events in order; provider errors as clear
step errors under the node's retry policy; usage and cost on the steps."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.ai.conftest import CANARY, script, with_mock
from workspace.domain.run import RunStatus
from workspace.mockllm.server import MockLLMServer
from workspace.runtime.workspace import Workspace

MODEL = "model: {credential: mock, model_name: gpt-4o-mini}\n"

AGENT = (
    """
name: Helper
slug: helper
trigger: chat
"""
    + MODEL
    + """
steps:
  - id: answer
    type: agent
    system_prompt: You are terse.
    prompt: "{{ trigger.text }}"
    tools: [calculator, datetime]
    memory: true
"""
)


def test_an_agent_calls_two_tools_then_answers_with_events_in_order(
    ws: Workspace, llm: MockLLMServer
) -> None:
    with_mock(ws, llm)
    script(
        llm,
        [
            {"match": '^\\{"output"', "role": "tool", "content": "Sum is 5; the date is known."},
            {
                "match": "add 2 and 3",
                "tool_calls": [
                    {"name": "answer_calculator", "arguments": {"expression": "2+3"}},
                    {"name": "answer_datetime", "arguments": {"operation": "now"}},
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 20},
            },
        ],
    )
    handle = ws.run(AGENT, {"text": "please add 2 and 3, and tell me the date"}, thread="t1")
    assert handle.status == RunStatus.SUCCEEDED, handle.steps
    assert handle.output["output"] == "Sum is 5; the date is known."
    assert handle.output["tool_calls"] == 2
    assert handle.output["model"]["model"] == "gpt-4o-mini"
    types = [(e.type.value, e.node_id, e.data.get("tool")) for e in handle.events]
    node_events = [t for t in types if t[1] == "answer"]
    assert node_events[0][0] == "node_started" and node_events[-1][0] == "node_succeeded"
    tools = [(t, tool) for t, _, tool in node_events if t.startswith("tool_")]
    assert tools == [
        ("tool_started", "answer_calculator"),
        ("tool_finished", "answer_calculator"),
        ("tool_started", "answer_datetime"),
        ("tool_finished", "answer_datetime"),
    ]
    tokens = [e for e in handle.events if e.type.value == "token"]
    assert "".join(e.data["text"] for e in tokens) == "Sum is 5; the date is known."
    assert [e.seq for e in handle.events] == sorted(e.seq for e in handle.events)
    finished = [e for e in handle.events if e.type.value == "tool_finished"]
    assert finished[0].data["output"] == {"output": 5}
    step = next(s for s in handle.steps if s.node_id == "answer")
    # two calls: (100 + 20) scripted, the second estimated by the mock
    assert step.tokens is not None and step.tokens > 120
    assert step.cost is not None and step.cost > 0  # gpt-4o-mini has a known price


def test_conversation_memory_spans_runs_of_one_thread(ws: Workspace, llm: MockLLMServer) -> None:
    with_mock(ws, llm)
    script(
        llm,
        [
            {"match": "my name is (\\w+)", "content": "Nice to meet you, \\1."},
            {"match": "what is my name", "content": "You told me before."},
        ],
    )
    first = ws.run(AGENT, {"text": "hello, my name is Ada"}, thread="chat-1", user="u1")
    assert first.output["output"] == "Nice to meet you, Ada."
    second = ws.run("helper", {"text": "what is my name?"}, thread="chat-1", user="u1")
    assert second.status == RunStatus.SUCCEEDED
    sent = llm.requests()[-1].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "hello, my name is Ada"
    assert sent[2]["content"] == "Nice to meet you, Ada."
    # another thread starts empty
    ws.run("helper", {"text": "what is my name?"}, thread="chat-2", user="u1")
    assert [m["role"] for m in llm.requests()[-1].body["messages"]] == ["system", "user"]


TRIAGE = (
    """
name: AI triage
slug: ai-triage
trigger: chat
"""
    + MODEL
    + """
steps:
  - id: classify
    type: categorizer
    categories: [urgent, question, {name: feedback, description: opinions}]
  - id: route
    type: switch
    rules: [{field: classify.category, operator: equals, value: urgent, route: page}]
    default: reply_normal
  - {id: page, type: reply, text: "paging on-call"}
  - {id: reply_normal, type: reply, text: "thanks ({{ classify.category }})"}
"""
)


def test_a_categorizer_routes_through_a_switch(ws: Workspace, llm: MockLLMServer) -> None:
    with_mock(ws, llm)
    script(
        llm,
        [
            {"match": "down|broken", "content": "Category: URGENT."},
            {"match": "how do I", "content": "question"},
            {"match": "love it", "content": "I cannot decide between feedback and question"},
        ],
    )
    urgent = ws.run(TRIAGE, {"text": "checkout is down"})
    assert urgent.output["text"] == "paging on-call"
    assert {s.node_id: s.status.value for s in urgent.steps}["reply_normal"] == "skipped"
    question = ws.run("ai-triage", {"text": "how do I reset my password?"})
    assert question.output["text"] == "thanks (question)"
    vague = ws.run("ai-triage", {"text": "I love it"})
    assert vague.status == RunStatus.FAILED  # never silently the first category
    step = next(s for s in vague.steps if s.node_id == "classify")
    assert step.error is not None and step.error["code"] == "unparseable_category"


EXTRACT = (
    """
name: Invoice
slug: invoice
"""
    + MODEL
    + """
steps:
  - id: fields
    type: extractor
    prompt: "{{ input.text }}"
    schema:
      type: object
      required: [amount, currency]
      properties:
        amount: {type: number}
        currency: {type: string, enum: [EUR, USD]}
"""
)


def test_an_extractor_repairs_an_invalid_answer(ws: Workspace, llm: MockLLMServer) -> None:
    with_mock(ws, llm)
    script(
        llm,
        [
            {
                "match": "Your answer is invalid",
                "content": '```json\n{"amount": 12.5, "currency": "EUR"}\n```',
            },
            {"match": "invoice", "content": '{"amount": "twelve", "currency": "euro"}'},
        ],
    )
    handle = ws.run(EXTRACT, {"text": "invoice: twelve euro fifty"})
    assert handle.status == RunStatus.SUCCEEDED, handle.steps
    assert handle.output == {"output": {"amount": 12.5, "currency": "EUR"}, "repairs": 1}
    repair = llm.requests()[1].body["messages"][-1]["content"]
    assert "amount: 'twelve' is not of type 'number'" in repair


def test_agent_drafts_and_unknown_models_are_refused_clearly(
    mem_ws: Workspace, llm: MockLLMServer
) -> None:
    with_mock(mem_ws, llm)
    doc = AGENT.replace("credential: mock", "credential: nope")
    handle = mem_ws.run(doc, {"text": "hi"})
    assert handle.status == RunStatus.FAILED
    error = next(s.error for s in handle.steps if s.node_id == "answer")
    assert error is not None and error["code"] == "no_model"
    assert "no usable LLM credential named 'nope'" in error["message"]


def _one_step(ws: Workspace, extra: str, text: str, model: str = MODEL) -> Any:
    doc = (
        "name: E\nslug: e\n" + model + "steps:\n  - id: a\n    type: agent\n"
        '    prompt: "{{ input.text }}"\n    tools: [calculator]\n' + extra
    )
    handle = ws.run(doc, {"text": text})
    return handle, next(s for s in handle.steps if s.node_id == "a")


SLOW_MODEL = "model: {credential: mock, model_name: gpt-4o-mini, timeout_s: 0.5}\n"


@pytest.mark.parametrize(
    ("rules", "model", "status", "code"),
    [
        (
            [{"match": "x", "error": {"status": 500, "message": "boom"}}],
            MODEL,
            "failed",
            "provider_error",
        ),
        (
            [
                {
                    "match": "x",
                    "times": 1,
                    "error": {"status": 429, "message": "slow", "retry_after": 0.4},
                },
                {"match": "x", "content": "ok now"},
            ],
            MODEL,
            "succeeded",
            None,
        ),
        (
            [{"match": "x", "tool_calls": [{"name": "a_calculator", "arguments": "2+"}]}],
            MODEL,
            "failed",
            "malformed_tool_call",
        ),
        (
            [{"match": "x", "content": "late", "delay_ms": 3000}],
            SLOW_MODEL,
            "failed",
            "provider_timeout",
        ),
    ],
)
def test_provider_errors_follow_the_retry_policy(
    mem_ws: Workspace,
    llm: MockLLMServer,
    rules: list[dict[str, Any]],
    model: str,
    status: str,
    code: str | None,
) -> None:
    """Two attempts (the node's retry policy) = two requests: the client itself does not
    retry behind the policy's back; a 429's retry-after is waited for."""
    with_mock(mem_ws, llm)
    script(llm, rules)
    handle, step = _one_step(
        mem_ws, "    retry: {max_attempts: 2, backoff_s: 0.05}\n", "x", model=model
    )
    assert handle.status.value == status, step
    requests = llm.requests()
    assert len(requests) == 2
    if code:
        assert step.error["code"] == code, step.error
        assert step.attempt == 2
        assert "Traceback" not in step.error["message"]
    else:
        assert requests[1].at - requests[0].at >= 0.4  # retry-after, not the 0.05 s backoff


def test_a_wrong_key_is_an_auth_error_not_retried(mem_ws: Workspace, llm: MockLLMServer) -> None:
    mem_ws.credentials.create("mock", "openai", "sk-wrong-key-000000", base_url=llm.openai_base_url)
    script(llm, [{"match": ".", "content": "never"}])
    handle, step = _one_step(mem_ws, "    retry: {max_attempts: 3, backoff_s: 0.01}\n", "hi")
    assert handle.status == RunStatus.FAILED
    assert step.error["code"] == "provider_auth" and step.attempt == 1
    assert len(llm.requests()) == 1
    assert CANARY not in json.dumps(step.error) and "sk-wrong-key" not in json.dumps(step.error)
