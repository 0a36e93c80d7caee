"""Tokens and cost per step, run (sub-workflows included) and workflow; budgets that stop a
run with ``budget_exceeded`` (SPEC §7), on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.ai.conftest import script, with_mock
from workspace.domain.run import RunStatus
from workspace.mockllm.server import MockLLMServer
from workspace.runtime.workspace import Workspace

#: gpt-4o-mini: $0.15 / 1M input tokens, $0.60 / 1M output tokens
PRICED = "model: {credential: mock, model_name: gpt-4o-mini}\n"


def agent_doc(slug: str, budget: str = "", model: str = PRICED, tools: str = "[calculator]") -> str:
    return (
        f"name: {slug}\nslug: {slug}\n{model}{budget}"
        'steps:\n  - id: think\n    type: agent\n    prompt: "{{ input.text }}"\n'
        f"    tools: {tools}\n"
    )


RULES = [
    # each call costs 100,000 input tokens = $0.015 and 1,000 output tokens = $0.0006
    {
        "match": "^\\{",
        "role": "tool",
        "content": "done",
        "usage": {"prompt_tokens": 100000, "completion_tokens": 1000},
    },
    {
        "match": "compute",
        "tool_calls": [{"name": "think_calculator", "arguments": {"expression": "6*7"}}],
        "usage": {"prompt_tokens": 100000, "completion_tokens": 1000},
    },
]


def test_cost_is_counted_per_step_and_run(ws: Workspace, llm: MockLLMServer) -> None:
    with_mock(ws, llm)
    script(llm, RULES)
    handle = ws.run(agent_doc("priced"), {"text": "compute it"})
    assert handle.status == RunStatus.SUCCEEDED
    step = next(s for s in handle.steps if s.node_id == "think")
    assert step.tokens == 202_000
    assert step.cost == pytest.approx(2 * (0.015 + 0.0006))
    usage = handle.usage
    assert usage.tokens == 202_000 and usage.unpriced == 0
    assert usage.cost == pytest.approx(0.0312)
    succeeded = [
        e for e in handle.events if e.type.value == "node_succeeded" and e.node_id == "think"
    ]
    assert succeeded[0].data["tokens"] == 202_000


def test_a_run_budget_stops_the_run(ws: Workspace, llm: MockLLMServer) -> None:
    with_mock(ws, llm)
    script(llm, RULES)
    handle = ws.run(agent_doc("capped", budget="budget: 0.02\n"), {"text": "compute it"})
    assert handle.status == RunStatus.FAILED
    assert handle.error is not None and handle.error["code"] == "budget_exceeded"
    assert "of its $0.02 budget" in handle.error["message"]
    assert len(llm.requests()) == 2  # stopped right after the call that overspent
    tokens = ws.run(
        agent_doc("token-capped", budget="budget: {run_tokens: 150000}\n"), {"text": "compute"}
    )
    assert tokens.error is not None and tokens.error["code"] == "budget_exceeded"
    assert "tokens of its budget of 150000" in tokens.error["message"]


def test_an_unpriced_model_cannot_keep_a_usd_budget(ws: Workspace, llm: MockLLMServer) -> None:
    with_mock(ws, llm)
    script(llm, [{"match": ".", "content": "hi"}])
    doc = agent_doc(
        "unpriced", budget="budget: 1\n", model="model: {credential: mock, model_name: llama-x}\n"
    )
    handle = ws.run(doc, {"text": "hello"})
    assert handle.status == RunStatus.FAILED
    assert handle.error is not None and handle.error["code"] == "budget_exceeded"
    assert "without a known price" in handle.error["message"]
    # without a budget the same run succeeds, its cost reported as unknown (not $0)
    free = ws.run(agent_doc("unpriced-2", model="model: {credential: mock, model_name: llama-x}\n"),
                  {"text": "hello"})  # fmt: skip
    assert free.status == RunStatus.SUCCEEDED
    assert free.usage.unpriced == 1 and free.usage.to_dict()["cost_usd"] is None
    assert next(s for s in free.steps if s.node_id == "think").cost is None


CHILD = agent_doc("child").replace("name: child\n", "name: child\ntrigger: none\n")
PARENT = (
    "name: parent\nslug: parent\nBUDGET" + PRICED + "steps:\n"
    "  - id: call\n    type: workflow\n    workflow: child\n    payload: {text: compute}\n"
    "  - id: after\n    type: agent\n    prompt: compute again\n    tools: [calculator]\n"
)


def test_child_runs_count_for_their_parent(ws: Workspace, llm: MockLLMServer) -> None:
    with_mock(ws, llm)
    script(llm, RULES)
    ws.import_dsl(CHILD)
    handle = ws.run(PARENT.replace("BUDGET", ""), {})
    assert handle.status == RunStatus.SUCCEEDED, handle.error
    own = ws.store.runs.usage(run_ids=[handle.id])
    assert own.tokens == 202_000  # the parent's own agent
    assert handle.usage.tokens == 404_000  # and the child's
    assert handle.usage.cost == pytest.approx(2 * 0.0312)
    # the parent's budget covers its children: the child overspends it and both stop
    capped = ws.run(
        PARENT.replace("BUDGET", "budget: 0.02\n").replace("slug: parent", "slug: parent-2"), {}
    )
    assert capped.status == RunStatus.FAILED
    assert capped.error is not None and capped.error["code"] == "budget_exceeded"


def test_a_daily_workflow_budget_spans_runs(ws: Workspace, llm: MockLLMServer) -> None:
    with_mock(ws, llm)
    script(llm, RULES)
    doc = agent_doc("daily", budget="budget: {workflow_usd_per_day: 0.05}\n")
    first = ws.run(doc, {"text": "compute"})
    assert first.status == RunStatus.SUCCEEDED  # $0.0312 of $0.05
    second = ws.run("daily", {"text": "compute"})
    assert second.status == RunStatus.FAILED  # $0.0312 + $0.0156 + $0.0156 > $0.05
    assert second.error is not None and "daily budget" in second.error["message"]


def test_a_bad_budget_is_refused_before_the_run(mem_ws: Workspace, llm: MockLLMServer) -> None:
    from workspace.errors import ValidationError

    with_mock(mem_ws, llm)
    with pytest.raises(ValidationError) as err:
        mem_ws.run(agent_doc("bad-budget", budget="budget: {run_usd: -1}\n"), {"text": "x"})
    assert err.value.code == "bad_budget"
