"""A canary secret through every sink (SPEC §9): an agent run with tools, memory and token
streaming over a credential holding the canary, then the canary is looked for in the events,
the step records, the run, the export, the REST answers, the logs and every byte of the
database file (checkpoints and conversation threads included). It must be nowhere."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.ai.conftest import CANARY, script, with_mock
from workspace.api.app import create_app
from workspace.domain.access import Role, User, new_api_key
from workspace.domain.run import RunStatus
from workspace.mockllm.server import MockLLMServer
from workspace.runtime.workspace import Workspace
from workspace.settings import Settings

DOC = """
name: Canary
slug: canary
trigger: chat
model: {credential: mock, model_name: gpt-4o-mini}
steps:
  - id: agent
    type: agent
    prompt: "{{ trigger.text }}"
    tools: [calculator]
    memory: true
    share_trace: true
"""


def test_the_secret_is_in_no_sink(
    tmp_path: Path, llm: MockLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    folder = tmp_path / "ws"
    ws = Workspace.open(folder, settings=Settings(workspace_dir=folder), inline=True)
    try:
        with_mock(ws, llm)
        script(
            llm,
            [
                {"match": "^\\{", "role": "tool", "content": "It is 42."},
                {
                    "match": "compute",
                    "tool_calls": [
                        {"name": "agent_calculator", "arguments": {"expression": "6*7"}}
                    ],
                },
            ],
        )
        handle = ws.run(DOC, {"text": "compute the answer"}, thread="t", user="u")
        assert handle.status == RunStatus.SUCCEEDED, handle.error
        assert any(e.type.value == "token" for e in handle.events)
        sinks = {
            "events": json.dumps([e.model_dump(mode="json") for e in handle.events]),
            "steps": json.dumps([s.model_dump(mode="json") for s in handle.steps]),
            "run": handle.run.model_dump_json(),
            "export": ws.export("canary") + ws.export("canary", format="json"),
            "credentials": json.dumps([c.public() for c in ws.credentials.list()]),
        }
        admin = ws.store.access.create_user(User(name="admin", role=Role.ADMIN))
        key, secret = new_api_key(admin.id)
        ws.store.access.add_key(key)
        with TestClient(create_app(ws)) as client:
            auth = {"Authorization": f"Bearer {secret}"}
            for path in (
                f"/api/v1/runs/{handle.id}",
                f"/api/v1/runs/{handle.id}/events",
                "/api/v1/credentials",
                "/api/v1/credentials/mock",
                "/api/v1/workflows/canary/export",
            ):
                resp = client.get(path, headers=auth)
                assert resp.status_code == 200, (path, resp.text)
                sinks[path] = resp.text
        sinks["logs"] = caplog.text
    finally:
        ws.close()
    files = b"".join(p.read_bytes() for p in folder.glob("plait.db*"))
    assert len(files) > 10_000
    for name, text in sinks.items():
        assert CANARY not in text, name
    assert CANARY.encode() not in files
    assert b"canary" in files  # the workflow is there: the scan reads the right file
