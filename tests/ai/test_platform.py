"""Self-awareness tools through the real engine on memory, SQLite and PostgreSQL: agents see
and extend Plait as the owner of their workflow (never another user's), write drafts only
(authored ``agent:<workflow>.<node>``), fork a human's workflow instead of overwriting it,
spawn child runs in parallel under limits, list/pause/resume schedules, read an allow-listed
API, and report health and identity."""

from __future__ import annotations

import json
from typing import Any

from tests.ai.conftest import script, with_mock
from workspace.domain.run import RunStatus
from workspace.mockllm.server import MockLLMServer
from workspace.runtime.workspace import Workspace

BUILDER = """
name: Builder
slug: builder
trigger: chat
model: {credential: mock, model_name: gpt-4o-mini}
steps:
  - id: agent
    type: agent
    prompt: "{{ trigger.text }}"
    max_steps: 3
    tools: [whoami, workflow_discover, workflow_create, workflow_patch, platform_api]
"""

HELLO = """
name: Hello
slug: {slug}
description: says hello
trigger: {{type: webhook, id: hook}}
steps:
  - {{id: greet, type: transform, template: "hello {{{{ trigger.payload.name }}}}"}}
"""

NEW = """
name: Made by agent
slug: agent-made
trigger: manual
steps:
  - {id: say, type: transform, template: "made"}
"""


def owned(ws: Workspace, text: str, owner: str) -> str:
    wf = ws.save(text, owner=owner)
    ws.publish(wf.slug)
    return wf.slug


def tool(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": f"agent_{name}", "arguments": arguments}]}


def ask(ws: Workspace, llm: MockLLMServer, text: str) -> Any:
    """Run the builder with ``text``; return what its tool answered (JSON)."""
    handle = ws.run("builder", {"text": text}, user="alice")
    assert handle.status == RunStatus.SUCCEEDED, handle.steps
    return json.loads(llm.requests()[-1].body["messages"][-1]["content"])


def test_an_agent_sees_and_writes_only_its_owners_workflows(
    ws: Workspace, llm: MockLLMServer
) -> None:
    with_mock(ws, llm)
    owned(ws, BUILDER, "alice")
    owned(ws, HELLO.format(slug="alice-hello"), "alice")
    owned(ws, HELLO.format(slug="bob-secret"), "bob")
    bob_run = ws.run("bob-secret", {"payload": {"name": "x"}})
    script(
        llm,
        [
            {"match": ".", "role": "tool", "content": "ok"},
            {"match": "^who", **tool("whoami")},
            {"match": "^list", **tool("workflow_discover")},
            {"match": "^create new", **tool("workflow_create", dsl=NEW)},
            {"match": "^create bad", **tool("workflow_create", dsl="name: x\nsteps: 3\n")},
            {
                "match": "^create bob",
                **tool("workflow_create", dsl=NEW.replace("agent-made", "bob-secret")),
            },
            {
                "match": "^patch human",
                **tool(
                    "workflow_patch",
                    workflow="alice-hello",
                    patches=[
                        {
                            "action": "update_config",
                            "step_id": "greet",
                            "config": {"template": "hi"},
                        }
                    ],
                ),
            },
            {
                "match": "^fork human",
                **tool(
                    "workflow_patch",
                    workflow="alice-hello",
                    into="alice-hello-v2",
                    patches=[
                        {
                            "action": "update_config",
                            "step_id": "greet",
                            "config": {"template": "hi"},
                        }
                    ],
                ),
            },
            {
                "match": "^patch mine",
                **tool(
                    "workflow_patch",
                    workflow="agent-made",
                    patches=[
                        {
                            "action": "update_config",
                            "step_id": "say",
                            "config": {"template": "changed"},
                        }
                    ],
                ),
            },
            {"match": "^patch bob", **tool("workflow_patch", workflow="bob-secret", patches=[])},
            {
                "match": "^read bob",
                **tool("platform_api", operation="runs.get", params={"run_id": bob_run.id}),
            },
            {
                "match": "^read types",
                **tool("platform_api", operation="node_types.get", params={"name": "whoami"}),
            },
            {"match": "^read secrets", **tool("platform_api", operation="credentials.list")},
        ],
    )
    me = ask(ws, llm, "who am I")["output"]
    assert me["owner"] == "alice" and me["workflow"] == "builder" and me["user"] == "alice"
    assert me["node_id"] == "agent_whoami" and me["depth"] == 0

    listed = ask(ws, llm, "list workflows")
    assert [w["slug"] for w in listed["output"]] == ["alice-hello", "builder"]
    hello = listed["output"][0]
    assert hello["latest_version"] == 1 and hello["draft_author"] is None
    [hook] = hello["triggers"]
    assert hook["id"] == "hook" and hook["type"] == "trigger_webhook"

    made = ask(ws, llm, "create new")
    assert made["slug"] == "agent-made" and made["draft"] is True
    assert made["author"] == "agent:builder.agent_workflow_create"
    wf = ws.workflow("agent-made")
    assert wf.owner == "alice" and ws.versions("agent-made") == []  # a draft, never published
    draft = ws.store.workflows.get_draft(wf.id)
    assert draft is not None and draft.author == "agent:builder.agent_workflow_create"

    bad = ask(ws, llm, "create bad")
    assert bad["error"] == "dsl_invalid" and "steps" in bad["message"]
    taken = ask(ws, llm, "create bob's slug")
    assert taken["error"] == "workflow_exists"
    assert ws.workflow("bob-secret").owner == "bob"

    refused = ask(ws, llm, "patch human")
    assert refused["error"] == "not_agent_draft" and "into" in refused["message"]
    forked = ask(ws, llm, "fork human")
    assert forked["slug"] == "alice-hello-v2" and forked["based_on"] == "alice-hello"
    fork_graph = ws.graph("alice-hello-v2")
    assert next(n for n in fork_graph.nodes if n.id == "greet").config["template"] == "hi"
    original = ws.graph("alice-hello")
    assert next(n for n in original.nodes if n.id == "greet").config["template"] != "hi"
    mine = ask(ws, llm, "patch mine")
    assert mine["slug"] == "agent-made"
    assert next(n for n in ws.graph("agent-made").nodes if n.id == "say").config == {
        "template": "changed"
    }

    assert ask(ws, llm, "patch bob")["error"] == "workflow_not_found"
    assert ask(ws, llm, "read bob's run")["error"] == "run_not_found"
    assert ask(ws, llm, "read types")["output"]["name"] == "whoami"
    secrets = ask(ws, llm, "read secrets")
    assert secrets["error"] == "bad_tool_arguments" and "operation" in secrets["message"]


CHILD = """
name: Child
slug: child
trigger: manual
steps:
  - id: work
    type: code
    code: |
      import time
      start = time.time()
      time.sleep(0.4)
      if input.get("fail"):
          raise ValueError("asked to fail")
      return {"n": input["n"] * 2, "start": start, "end": time.time()}
"""

PARENT = """
name: Parent
slug: parent
trigger: manual
steps:
  - id: fan
    type: spawn_and_await
    runs: "{{ trigger.runs }}"
"""


def test_spawn_and_await_runs_children_in_parallel_under_limits(ws: Workspace) -> None:
    owned(ws, CHILD, "alice")
    owned(ws, PARENT, "alice")
    owned(ws, CHILD.replace("slug: child", "slug: bobs-child"), "bob")
    runs = [
        {"workflow": "child", "input": {"n": 1}},
        {"workflow": "child", "input": {"n": 2}},
        {"workflow": "child", "input": {"n": 3, "fail": True}},
    ]
    handle = ws.run("parent", {"runs": runs})
    assert handle.status == RunStatus.SUCCEEDED, handle.steps
    results = handle.output["output"]
    assert [r["status"] for r in results] == ["succeeded", "succeeded", "failed"]
    assert [r["output"]["n"] for r in results[:2]] == [2, 4]
    assert "asked to fail" in results[2]["error"]["message"]
    assert handle.output["succeeded"] == 2
    # the children overlapped in time: they ran in parallel
    a, b = results[0]["output"], results[1]["output"]
    assert a["start"] < b["end"] and b["start"] < a["end"]
    children = ws.store.runs.list(parent_run_id=handle.id)
    assert {c.id for c in children} == {r["run_id"] for r in results}
    assert all(c.user == handle.run.user for c in children)

    other = ws.run("parent", {"runs": [{"workflow": "bobs-child", "input": {"n": 1}}]})
    assert other.status == RunStatus.FAILED
    assert other.error is not None and other.error["code"] == "workflow_not_found"
    many = ws.run("parent", {"runs": [{"workflow": "child", "input": {"n": i}} for i in range(11)]})
    assert many.error is not None and many.error["code"] == "spawn_limit"

    # a workflow that spawns itself stops at the depth limit
    ws.engine.services.platform.spawner.max_depth = 2  # type: ignore[union-attr]
    owned(
        ws,
        PARENT.replace("slug: parent", "slug: again").replace(
            '"{{ trigger.runs }}"', "[{workflow: again}]"
        ),
        "alice",
    )
    deep = ws.run("again")
    assert deep.status == RunStatus.SUCCEEDED, deep.steps  # its child failed, as a result
    level1 = deep.output["output"][0]
    assert level1["status"] == "succeeded"
    level2 = level1["output"]["output"][0]
    assert level2["status"] == "failed" and level2["error"]["code"] == "depth_limit"


SCHEDULED = """
name: Nightly
slug: {slug}
trigger: {{type: schedule, id: nightly, cron: "0 3 * * *"}}
steps:
  - {{id: noop, type: transform, template: "x"}}
"""

OPS = """
name: Ops
slug: ops
trigger: manual
steps:
  - id: sched
    type: scheduler_tools
    action: "{{ trigger.action }}"
    schedule_id: "{{ trigger.id }}"
  - {id: health, type: system_health}
"""


def test_scheduler_tools_and_health_see_only_the_owners_things(ws: Workspace) -> None:
    owned(ws, SCHEDULED.format(slug="alice-nightly"), "alice")
    owned(ws, SCHEDULED.format(slug="bob-nightly"), "bob")
    owned(ws, OPS, "alice")
    listed = ws.run("ops", {"action": "list", "id": ""})
    assert listed.status == RunStatus.SUCCEEDED, listed.steps
    sched = next(s for s in listed.steps if s.node_id == "sched").output
    assert sched is not None
    [mine] = sched["output"]
    assert mine["workflow"] == "alice-nightly" and mine["paused"] is False
    paused = ws.run("ops", {"action": "pause", "id": mine["id"]})
    assert next(s for s in paused.steps if s.node_id == "sched").output["output"]["paused"]  # type: ignore[index]
    assert ws.store.schedules.get(mine["id"]).paused is True
    ws.run("ops", {"action": "resume", "id": mine["id"]})
    assert ws.store.schedules.get(mine["id"]).paused is False
    bobs = ws.store.schedules.list()
    bob_id = next(s.id for s in bobs if s.workflow_slug == "bob-nightly")
    refused = ws.run("ops", {"action": "pause", "id": bob_id})
    assert refused.error is not None and refused.error["code"] == "schedule_not_found"
    assert ws.store.schedules.get(bob_id).paused is False
    health = listed.output["output"]
    assert health["database"] == "ok" and health["status"] == "ok"
    assert health["queue"] == "inline (this process)"
    assert set(health["runs_in_flight"]) == {"queued", "running", "waiting", "paused"}
