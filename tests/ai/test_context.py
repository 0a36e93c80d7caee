"""Context (SPEC §7): an agent whose conversation outgrows the model's window summarizes the
oldest part with the same model into a system note (``summarize: true``), or drops it (the
default), against the scripted mock LLM on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ai.conftest import script, with_mock
from workspace.domain.run import RunStatus
from workspace.mockllm.server import MockLLMServer
from workspace.runtime.workspace import Workspace
from workspace.settings import Settings

#: a model with a tiny window: 1,400 tokens, 1,024 of them reserved for the answer
TINY = {"tiny": {"provider": "openai", "context_window": 1400}}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(workspace_dir=tmp_path / "ws", ai={"models": TINY})  # type: ignore[arg-type]


def agent(summarize: bool) -> str:
    return f"""
name: Chatty
slug: chatty
trigger: chat
model: {{credential: mock, model_name: tiny}}
steps:
  - id: answer
    type: agent
    prompt: "{{{{ trigger.text }}}}"
    system_prompt: You keep notes.
    memory: true
    summarize: {str(summarize).lower()}
"""


def chat(ws: Workspace, llm: MockLLMServer, summarize: bool) -> list[dict[str, str]]:
    with_mock(ws, llm)
    script(
        llm,
        [
            {"match": "^Conversation:", "content": "SUMMARY: facts 1 to 3 are long strings of x."},
            {"match": "remember fact (\\d)", "content": "Noted \\1."},
        ],
    )
    ws.import_dsl(agent(summarize))
    for i in range(1, 5):
        handle = ws.run("chatty", {"text": f"remember fact {i}: " + "x" * 400}, thread="th")
        assert handle.status == RunStatus.SUCCEEDED, (i, handle.error)
        assert handle.output["output"] == f"Noted {i}."
    return list(llm.requests()[-1].body["messages"])


def test_a_long_conversation_is_summarized_into_a_system_note(
    ws: Workspace, llm: MockLLMServer
) -> None:
    sent = chat(ws, llm, summarize=True)
    summaries = [
        r.body["messages"]
        for r in llm.requests()
        if r.body["messages"][0]["content"].startswith("Summarize the conversation")
    ]
    # the old part (~1,300 characters) does not fit one call of this window: it is folded
    assert len(summaries) >= 2, [len(s[1]["content"]) for s in summaries]
    # each call fits the window: the old part is folded in pieces, the summary so far carried
    assert all(s[0]["role"] == "system" and len(s) == 2 for s in summaries)
    transcript = "\n".join(s[1]["content"] for s in summaries)
    assert "remember fact 1" in transcript and "ai: Noted 2." in transcript
    assert "remember fact 4" not in transcript  # the newest message is kept as it is
    assert "Summary of what came before it" not in summaries[0][1]["content"]
    for later in summaries[1:]:
        assert "Summary of what came before it:\nSUMMARY:" in later[1]["content"]
    assert [m["role"] for m in sent] == ["system", "system", "assistant", "user"]
    assert sent[0]["content"] == "You keep notes."
    assert sent[1]["content"] == (
        "Summary of the earlier conversation:\nSUMMARY: facts 1 to 3 are long strings of x."
    )
    assert sent[2]["content"] == "Noted 3." and sent[3]["content"].startswith("remember fact 4")
    # the summary call is paid for on the agent's step; the thread keeps the whole history
    runs = ws.runs("chatty", limit=1)
    step = next(s for s in ws.get_run(runs[0].id).steps if s.node_id == "answer")
    assert step.tokens is not None and step.tokens > 400
    thread = ws.engine.services.conversations.open("chatty:-:th")  # type: ignore[union-attr]
    assert len(thread.messages()) == 8


def test_without_summarize_the_oldest_messages_are_dropped(
    ws: Workspace, llm: MockLLMServer
) -> None:
    sent = chat(ws, llm, summarize=False)
    assert not any(m["content"].startswith("Summary of") for m in sent)
    assert sent[0]["content"] == "You keep notes."
    assert not any("remember fact 1" in m["content"] for m in sent)
    assert sent[-1]["content"].startswith("remember fact 4")
    assert all(not r.body["messages"][0]["content"].startswith("Summarize") for r in llm.requests())
