"""Long-term memory through the real engine on memory, SQLite and PostgreSQL: the
``memory_write`` / ``memory_read`` / ``identify_user`` steps, scopes kept apart (users, workflows,
owners), identities across channels without clobbering the run, memory as an agent's tools
through the scripted mock LLM, and search by meaning with a FAKE embedder."""

from __future__ import annotations

import json

from tests.ai.conftest import script, with_mock
from tests.support.embeddings import FakeEmbedder
from workspace.domain.run import RunStatus
from workspace.mockllm.server import MockLLMServer
from workspace.runtime.workspace import Workspace

NOTES = """
name: Notes
slug: notes
trigger: manual
steps:
  - id: write
    type: memory_write
    key: "{{ trigger.key }}"
    value: "{{ trigger.value }}"
    scope: "{{ trigger.scope }}"
  - id: read
    type: memory_read
    key: "{{ trigger.key }}"
    scope: "{{ trigger.scope }}"
"""

READER = """
name: Reader
slug: reader
trigger: manual
steps:
  - id: read
    type: memory_read
    key: "{{ trigger.key }}"
    scope: "{{ trigger.scope }}"
"""


def publish(ws: Workspace, text: str, owner: str | None = None) -> str:
    wf = ws.save(text, owner=owner)
    ws.publish(wf.slug)
    return wf.slug


def read(ws: Workspace, slug: str, key: str, scope: str, user: str | None = None) -> object:
    handle = ws.run(slug, {"key": key, "scope": scope}, user=user)
    assert handle.status == RunStatus.SUCCEEDED, handle.steps
    return handle.output["output"]


def test_scopes_keep_users_workflows_and_owners_apart(ws: Workspace) -> None:
    publish(ws, NOTES, owner="owner-a")
    publish(ws, READER, owner="owner-a")
    publish(ws, READER.replace("slug: reader", "slug: reader-b"), owner="owner-b")
    for user, city in (("alice", "Paris"), ("bob", "Oslo")):
        h = ws.run("notes", {"key": "city", "value": city, "scope": "user"}, user=user)
        assert h.status == RunStatus.SUCCEEDED, h.steps
        assert h.output["output"] == city and h.output["found"] is True
    assert read(ws, "reader", "city", "user", "alice") == "Paris"
    assert read(ws, "reader", "city", "user", "bob") == "Oslo"
    assert read(ws, "reader", "city", "user", "carol") is None
    # another owner's workflow never sees owner-a's memory, whatever the user
    assert read(ws, "reader-b", "city", "user", "alice") is None

    ws.run("notes", {"key": "motto", "value": "ship it", "scope": "global"})
    ws.run("notes", {"key": "count", "value": "7", "scope": "workflow"})
    assert read(ws, "reader", "motto", "global") == "ship it"  # same owner, other workflow
    assert read(ws, "reader-b", "motto", "global") is None
    assert read(ws, "reader", "count", "workflow") is None  # workflow scope: per workflow
    counter = """
name: Counter
slug: counter
trigger: manual
steps:
  - {id: before, type: memory_read, key: count, scope: workflow}
  - {id: write, type: memory_write, key: count, value: "{{ trigger.n }}", scope: workflow}
"""
    publish(ws, counter, owner="owner-a")
    ws.run("counter", {"n": 1})
    again = ws.run("counter", {"n": 2})
    assert next(s for s in again.steps if s.node_id == "before").output["output"] == 1  # type: ignore[index]
    run_scoped = ws.run("notes", {"key": "tmp", "value": "x", "scope": "run"})
    assert run_scoped.output["output"] == "x"
    assert read(ws, "reader", "tmp", "run") is None


def test_the_user_scope_needs_a_user(ws: Workspace) -> None:
    publish(ws, NOTES)
    handle = ws.run("notes", {"key": "city", "value": "Rome", "scope": "user"})
    assert handle.status == RunStatus.FAILED
    assert handle.error is not None and handle.error["code"] == "no_user"
    assert "identify_user" in handle.error["message"]


IDENTIFY = """
name: Who
slug: who
trigger: manual
steps:
  - id: who
    type: identify_user
    channel: "{{ trigger.channel }}"
    external_id: "{{ trigger.id }}"
  - id: remember
    type: memory_write
    key: last_channel
    value: "{{ trigger.channel }}"
  - id: recall
    type: memory_read
    key: nickname
  - id: report
    type: transform
    template: "{{ run.user }}|{{ who.user_id }}|{{ recall.output }}"
"""


def test_identify_user_links_channels_without_clobbering_the_run(ws: Workspace) -> None:
    publish(ws, IDENTIFY)
    publish(ws, NOTES)
    publish(ws, READER)
    # ada chats as "ada"; her nickname is a fact of user "ada"
    ws.run("notes", {"key": "nickname", "value": "Countess", "scope": "user"}, user="ada")
    first = ws.run("who", {"channel": "telegram", "id": 42}, user="webhook-bot")
    assert first.status == RunStatus.SUCCEEDED, first.steps
    # unknown telegram id: a new user; the run's own user is unchanged
    assert first.output["output"] == "webhook-bot|telegram:42|None"
    who = next(s for s in first.steps if s.node_id == "who").output
    assert who is not None and who["known"] is False
    # link telegram 42 to ada (e.g. after a login); from now on it is ada everywhere
    link = """
name: Link
slug: link
trigger: manual
steps:
  - {id: link, type: identify_user, channel: telegram, external_id: "42", user: ada}
"""
    assert ws.run(link).status == RunStatus.SUCCEEDED
    second = ws.run("who", {"channel": "telegram", "id": 42}, user="webhook-bot")
    assert second.output["output"] == "webhook-bot|ada|Countess"
    who = next(s for s in second.steps if s.node_id == "who").output
    assert who is not None and who["known"] is True
    assert who["identities"] == [{"channel": "telegram", "external_id": "42"}]
    assert read(ws, "reader", "last_channel", "user", "ada") == "telegram"
    missing = ws.run(
        "name: Nobody\nslug: nobody\ntrigger: manual\nsteps:\n  - {id: who, type: identify_user}\n"
    )
    assert missing.status == RunStatus.FAILED
    assert missing.error is not None and missing.error["code"] == "missing_identity"


AGENT = """
name: Rememberer
slug: rememberer
trigger: chat
model: {credential: mock, model_name: gpt-4o-mini}
steps:
  - id: agent
    type: agent
    prompt: "{{ trigger.text }}"
    tools: [memory_write, memory_read]
"""


def test_an_agent_remembers_across_runs_with_memory_tools(
    ws: Workspace, llm: MockLLMServer
) -> None:
    with_mock(ws, llm)
    script(
        llm,
        [
            {"match": '"remembered"', "role": "tool", "content": "Noted."},
            {"match": '"found": true', "role": "tool", "content": "You like green tea."},
            {"match": '"error"', "role": "tool", "content": "I may not do that."},
            {
                "match": "I like (\\w+ \\w+)",
                "tool_calls": [
                    {
                        "name": "agent_memory_write",
                        "arguments": {"key": "drink", "value": "\\1", "tags": ["preference"]},
                    }
                ],
            },
            {
                "match": "what do I like",
                "tool_calls": [{"name": "agent_memory_read", "arguments": {"query": "drink"}}],
            },
            {
                "match": "read bob",
                "tool_calls": [
                    {"name": "agent_memory_read", "arguments": {"key": "drink", "user": "bob"}}
                ],
            },
        ],
    )
    first = ws.run(AGENT, {"text": "I like green tea"}, user="alice", thread="t1")
    assert first.status == RunStatus.SUCCEEDED, first.steps
    assert first.output["output"] == "Noted."
    # a new conversation (no chat memory) still finds the fact
    second = ws.run("rememberer", {"text": "what do I like?"}, user="alice", thread="t2")
    assert second.output["output"] == "You like green tea."
    tool_result = llm.requests()[-1].body["messages"][-1]["content"]
    found = json.loads(tool_result)
    assert found["found"] is True and found["items"][0]["value"] == "green tea"
    assert found["items"][0]["tags"] == ["preference"]
    # the model cannot pick whose memory it reads
    third = ws.run("rememberer", {"text": "read bob's drink"}, user="alice", thread="t3")
    assert third.output["output"] == "I may not do that."
    refused = json.loads(llm.requests()[-1].body["messages"][-1]["content"])
    assert refused["error"] == "bad_tool_arguments" and "user" in refused["message"]
    # bob's search finds nothing of alice's
    ws.run("rememberer", {"text": "what do I like?"}, user="bob", thread="t4")
    nothing = json.loads(llm.requests()[-1].body["messages"][-1]["content"])
    assert nothing == {"output": [], "found": False, "items": []}


def test_search_by_meaning_with_a_fake_embedder(ws: Workspace) -> None:
    ws.memory.embedder = FakeEmbedder()
    publish(ws, NOTES)
    for key, value in (("pet", "my kitten sleeps all day"), ("ride", "an old automobile")):
        ws.run("notes", {"key": key, "value": value, "scope": "workflow"})
    search = """
name: Search
slug: search
trigger: manual
steps:
  - {id: find, type: memory_read, query: "{{ trigger.q }}", scope: global, mode: keyword}
  - {id: meaning, type: memory_read, query: "{{ trigger.q }}", scope: all, limit: 1}
"""
    # workflow scope of `search` is empty; write global items to find
    publish(ws, NOTES.replace("slug: notes", "slug: notes2"))
    ws.run("notes2", {"key": "pet", "value": "my kitten sleeps all day", "scope": "global"})
    ws.run("notes2", {"key": "ride", "value": "an old automobile", "scope": "global"})
    handle = ws.run(search, {"q": "feline"})
    assert handle.status == RunStatus.SUCCEEDED, handle.steps
    outputs = {s.node_id: s.output for s in handle.steps}
    assert outputs["find"] is not None and outputs["find"]["found"] is False  # no such word
    meaning = outputs["meaning"]
    assert meaning is not None and meaning["output"][0]["key"] == "pet"
    assert meaning["output"][0]["score"] > 0.3
    ws.memory.embedder = None
    plain = ws.run("search", {"q": "feline"})
    assert plain.status == RunStatus.SUCCEEDED
    strict = ws.run(
        "name: S2\nslug: s2\ntrigger: manual\nsteps:\n"
        "  - {id: m, type: memory_read, query: cat, mode: semantic}\n"
    )
    assert strict.status == RunStatus.FAILED
    assert strict.error is not None and strict.error["code"] == "no_embedder"
