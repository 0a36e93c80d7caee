"""The live run view of AI runs over the local ``Workspace`` facade (memory, SQLite and
PostgreSQL through the ``ws`` fixture; and once over HTTP), the agent answering through the
scripted mock LLM and the real LangChain client: streamed text shown while the node still
runs, tool calls as nested lines under the node, token and cost totals (live, then the stored
run's), a price that is not known shown as unknown — never $0."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kernel_ext.noderow import NodeRow
from kernel_ext.runview import RunView
from kernel_ext.usage import UsageLine
from tests.notebook.conftest import ApiServer
from workspace.client import RemoteWorkspace
from workspace.domain.run import RunStatus
from workspace.domain.usage import Usage
from workspace.mockllm import load_script
from workspace.mockllm.server import MockLLMServer
from workspace.runtime.workspace import Workspace
from workspace.settings import Settings

AGENT = """
name: Helper
slug: helper
trigger: manual
model: {credential: mock, model_name: MODEL}
steps:
  - id: prepare
    type: code
    code: "return {'question': trigger['text']}"
  - id: answer
    type: agent
    prompt: "{{ prepare.question }}"
    tools: [calculator, datetime]
"""

#: the final answer comes after a pause, so the view is seen while the agent still runs
PAUSE_MS = 4000
RULES = [
    {"match": "cannot evaluate", "role": "tool", "content": "That expression was broken."},
    {
        "match": "broken",
        "tool_calls": [{"name": "answer_calculator", "arguments": {"expression": "6 *"}}],
    },
    {
        "match": "^\\{",
        "role": "tool",
        "content": "6 times 7 is 42, and I know the date.",
        "delay_ms": PAUSE_MS,
    },
    {
        "match": "6 times 7",
        "content": "Let me compute that.",
        "tool_calls": [
            {"name": "answer_calculator", "arguments": {"expression": "6 * 7"}},
            {"name": "answer_datetime", "arguments": {"operation": "now"}},
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20},
    },
]


@pytest.fixture
def llm() -> Iterator[MockLLMServer]:
    with MockLLMServer(load_script({"rules": RULES})) as server:
        yield server


def _agent(ws: Workspace, llm: MockLLMServer, model: str = "gpt-4o-mini") -> None:
    ws.credentials.create("mock", "openai", "sk-test", base_url=llm.openai_base_url)
    ws.import_dsl(AGENT.replace("MODEL", model))


def test_streamed_text_and_tool_calls_show_while_the_agent_runs(
    ws: Workspace, llm: MockLLMServer
) -> None:
    _agent(ws, llm)
    handle = ws.run("helper", {"text": "what is 6 times 7, and what day is it?"}, wait=False)
    view = RunView(ws, handle.id)
    try:
        row = view.rows["answer"]
        # the first model call streamed text and asked for two tools, which ran; the answer
        # is still being written (the mock pauses before it)
        view.wait(60, until=lambda: len(row.tools) == 2 and row.tools[1].status != "running")
        with view._lock:
            assert ws.get_run(handle.id).status == RunStatus.RUNNING
            assert row.status == "running" and not view.finished
            assert "".join(row.tokens) == "Let me compute that."
            index = list(view.rows).index("answer")
            title = view.nodes.titles[index]
            assert title.startswith("◐ answer (agent) running · 2 tool calls"), title
            assert view.nodes.selected_index == index  # the streaming node is opened
            shown = view.nodes.children[index].value  # type: ignore[attr-defined]
            assert "Let me compute that." in shown
            assert (
                "✓ answer_calculator (calculator) {&quot;expression&quot;: &quot;6 * 7&quot;}"
                in (shown)
            )
            assert "→ {&quot;output&quot;: 42}" in shown
            assert "✓ answer_datetime (datetime)" in shown
            # the 'prepare' step used no model: nothing to total yet
            assert view.usage.total is None and 'class="plait-usage"' not in view.result.value
        view.wait(60)
        assert view.finished and view.status == "succeeded"
        assert "".join(row.tokens) == "Let me compute that.6 times 7 is 42, and I know the date."
        kinds = [type(item).__name__ for item in row.transcript]
        assert kinds == ["str", "ToolLine", "ToolLine", "str"]
        stored = ws.get_run(handle.id)
        usage = stored.usage
        assert usage.tokens > 120 and usage.unpriced == 0 and usage.cost > 0
        assert view.tokens == usage.tokens and view.cost == pytest.approx(usage.cost)
        assert f"{usage.tokens:,} tokens · cost $" in view.result.value
        assert 'data-usage="final"' in view.result.value
        index = list(view.rows).index("answer")
        assert f"· 2 tool calls · {usage.tokens} tokens" in view.nodes.titles[index]
    finally:
        view.close()
    # re-attached to the finished run: the same transcript and totals, replayed at once
    again = RunView(ws, handle.id)
    assert again.finished and again.nodes.titles == view.nodes.titles
    assert again.result.value == view.result.value
    assert again.rows["answer"].transcript == view.rows["answer"].transcript


def test_a_model_without_a_known_price_shows_the_cost_as_unknown(
    mem_ws: Workspace, llm: MockLLMServer
) -> None:
    _agent(mem_ws, llm, model="local-llama-unpriced")
    handle = mem_ws.run("helper", {"text": "6 times 7?"})
    assert handle.status == RunStatus.SUCCEEDED, handle.steps
    view = RunView(mem_ws, handle.id)
    assert view.finished and view.tokens == handle.usage.tokens and view.tokens
    assert view.cost is None
    assert "cost unknown (1 step with an unpriced model)" in view.result.value
    assert "$0" not in view.result.value


def test_a_failing_tool_call_is_a_failed_line_under_the_node(
    mem_ws: Workspace, llm: MockLLMServer
) -> None:
    _agent(mem_ws, llm)
    handle = mem_ws.run("helper", {"text": "this is broken"})
    assert handle.status == RunStatus.SUCCEEDED, handle.steps  # the model saw the error
    view = RunView(mem_ws, handle.id)
    [line] = view.rows["answer"].tools
    assert line.status == "failed" and "cannot evaluate '6 *'" in line.text()
    assert line.text().startswith("✗ answer_calculator (calculator)")
    assert "That expression was broken." in view.rows["answer"].detail()


def test_a_row_the_person_opened_stays_open(mem_ws: Workspace, llm: MockLLMServer) -> None:
    _agent(mem_ws, llm)
    handle = mem_ws.run("helper", {"text": "this is broken"})
    followed = RunView(mem_ws, handle.id)
    assert followed.nodes.selected_index == list(followed.rows).index("answer")
    chosen = RunView(mem_ws, handle.id, start=False)
    chosen.nodes.selected_index = 0  # a click on the first row
    chosen.start()
    assert chosen.finished and chosen.nodes.selected_index == 0


def test_usage_line_never_passes_an_unknown_cost_off_as_zero() -> None:
    line = UsageLine()
    assert line.text() == "" and line.html() == ""
    line.node_finished("a", {"tokens": 100, "cost": 0.0012, "iteration": ""})
    assert line.text() == "100 tokens · cost $0.0012" and 'data-usage="live"' in line.html()
    line.node_finished("b", {"tokens": 50, "cost": None, "iteration": ""})
    assert line.cost is None
    assert line.text() == "150 tokens · cost unknown (1 step with an unpriced model, $0.0012 known)"
    line.node_finished("b", {"tokens": 50, "cost": None, "iteration": "1"})
    assert "(2 steps with an unpriced model" in line.text()
    line.final = Usage(tokens=7, cost=0.0, unpriced=0)
    line.scripted = True
    assert line.text() == "7 tokens · cost $0 · scripted mock model: no real model was called"
    assert UsageLine(final=Usage()).text() == ""  # a run without any model call


def test_a_tool_finished_without_its_start_still_shows() -> None:
    row = NodeRow("agent", "agent")
    row.tool_finished({"tool": "t", "call": 3, "output": {"output": 1}, "duration_ms": 2.4})
    assert [t.text() for t in row.tools] == ['✓ t null → {"output": 1} — 2 ms']


def test_over_http_the_view_shows_the_same_tools_and_totals(
    api_server: ApiServer, llm: MockLLMServer
) -> None:
    folder = api_server.folder
    with Workspace.open(folder, settings=Settings(workspace_dir=folder), inline=True) as local:
        local.credentials.create("mock", "openai", "sk-test", base_url=llm.openai_base_url)
    with RemoteWorkspace(api_server.url, api_server.key) as client:
        client.save(AGENT.replace("MODEL", "local-llama-unpriced"))
        client.publish("helper")
        run = client.run("helper", {"text": "this is broken"}, wait=False)
        view = RunView(client, run.id).wait(60)
        try:
            assert view.finished and view.status == "succeeded", view.error
            usage = client.get_run(run.id).usage
            assert usage.tokens > 0 and usage.unpriced == 1
            assert view.tokens == usage.tokens and view.cost is None
            assert "cost unknown (1 step with an unpriced model)" in view.result.value
            [line] = view.rows["answer"].tools
            assert line.status == "failed" and "cannot evaluate" in line.text()
        finally:
            view.close()
