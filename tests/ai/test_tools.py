"""Agent tools that run code and programs in the sandbox, and search the web, through the real
engine (memory, SQLite, PostgreSQL) and the scripted mock LLM: ``code_execute`` (DSL alias
``code``), ``run_command`` (clean environment, private temp dir, limits, no network) and
``web_search`` against a local fake SearXNG server."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.ai.conftest import script, with_mock
from tests.nodes.test_sandbox_zygote import NETNS
from workspace.domain.run import RunStatus
from workspace.mockllm.server import MockLLMServer
from workspace.runtime.workspace import Workspace
from workspace.settings import Settings

ENV_CANARY = "env-canary-4c1d9e"


class FakeSearxng:
    """A local HTTP server speaking SearXNG's JSON search API (canned results)."""

    def __init__(self) -> None:
        self.queries: list[dict[str, list[str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                fake.queries.append(query)
                q = query.get("q", [""])[0]
                if url.path != "/search" or query.get("format") != ["json"]:
                    self._send(403, b"forbidden")
                elif q == "explode":
                    self._send(500, b"boom")
                else:
                    results = [
                        {
                            "title": f"Result {i} for {q}",
                            "url": f"https://example.org/{i}",
                            "content": f"snippet {i}",
                            "engine": "fake",
                        }
                        for i in range(1, 8)
                    ]
                    self._send(200, json.dumps({"query": q, "results": results}).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@pytest.fixture
def searx() -> Iterator[FakeSearxng]:
    server = FakeSearxng()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def settings(tmp_path: Path, searx: FakeSearxng) -> Settings:
    """The workspaces of this module search with the fake SearXNG server."""
    return Settings(workspace_dir=tmp_path / "ws", tools={"searxng_url": searx.url})  # type: ignore[arg-type]


CODER = """
name: Coder
slug: coder
trigger: chat
model: {credential: mock, model_name: gpt-4o-mini}
steps:
  - id: agent
    type: agent
    prompt: "{{ trigger.text }}"
    tools: [code, run_command, web_search]
"""


def last_tool_result(llm: MockLLMServer) -> Any:
    return json.loads(llm.requests()[-1].body["messages"][-1]["content"])


def test_an_agent_runs_code_commands_and_searches(
    ws: Workspace, llm: MockLLMServer, searx: FakeSearxng
) -> None:
    with_mock(ws, llm)
    script(
        llm,
        [
            {"match": '"stdout"', "role": "tool", "content": "Done."},
            {"match": '"count"', "role": "tool", "content": "Found it."},
            {"match": '"error"', "role": "tool", "content": "Refused."},
            {
                "match": "compute",
                "tool_calls": [
                    {
                        "name": "agent_code_execute",
                        "arguments": {"code": "print('working')\nreturn sum(range(10))"},
                    }
                ],
            },
            {
                "match": "list files",
                "tool_calls": [
                    {"name": "agent_run_command", "arguments": {"command": ["ls", "-a"]}}
                ],
            },
            {
                "match": "search",
                "tool_calls": [
                    {"name": "agent_web_search", "arguments": {"query": "plait", "max_results": 2}}
                ],
            },
            {
                "match": "go online",
                "tool_calls": [
                    {
                        "name": "agent_code_execute",
                        "arguments": {"code": "return 1", "allow_network": True},
                    }
                ],
            },
        ],
    )
    handle = ws.run(CODER, {"text": "compute the sum"}, thread="a")
    assert handle.status == RunStatus.SUCCEEDED, handle.steps
    assert last_tool_result(llm) == {"output": 45, "stdout": "working\n"}
    tools = {t["function"]["name"]: t["function"] for t in llm.requests()[0].body["tools"]}
    assert set(tools["agent_code_execute"]["parameters"]["properties"]) == {"code"}
    assert set(tools["agent_run_command"]["parameters"]["properties"]) == {
        "command",
        "shell",
        "stdin",
    }

    ws.run("coder", {"text": "list files"}, thread="b")
    listed = last_tool_result(llm)
    assert listed["exit_code"] == 0 and listed["stdout"].split() == [".", ".."]  # a fresh dir

    ws.run("coder", {"text": "search the web"}, thread="c")
    found = last_tool_result(llm)
    assert found["count"] == 2
    assert found["output"][0] == {
        "title": "Result 1 for plait",
        "url": "https://example.org/1",
        "snippet": "snippet 1",
        "engine": "fake",
    }
    assert searx.queries[-1]["q"] == ["plait"]

    refused = ws.run("coder", {"text": "go online"}, thread="d")
    assert refused.output["output"] == "Refused."
    error = last_tool_result(llm)
    assert error["error"] == "bad_tool_arguments" and "allow_network" in error["message"]


COMMAND = """
name: Command
slug: command
trigger: manual
steps:
  - id: cmd
    type: run_command
    command: "{{ trigger.command }}"
    shell: true
    timeout_s: 3
"""


def run_command(ws: Workspace, command: str) -> Any:
    return ws.run("command", {"command": command})


def test_run_command_is_sandboxed(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAIT_TEST_SECRET", ENV_CANARY)
    ws.import_dsl(COMMAND)
    seen = run_command(ws, "env; echo cwd=$(pwd); touch mine; ls")
    assert seen.status == RunStatus.SUCCEEDED, seen.steps
    out = seen.output
    assert out["exit_code"] == 0 and out["timed_out"] is False
    assert ENV_CANARY not in out["stdout"] and "PLAIT_" not in out["stdout"]
    cwd = next(line for line in out["stdout"].splitlines() if line.startswith("cwd="))[4:]
    # a private dir (random name) under this worker's snippet-dir parent, gone after the call
    assert os.path.basename(os.path.dirname(cwd)).startswith("plait-code-")
    assert not os.path.exists(cwd)
    assert out["stdout"].rstrip().endswith("mine")

    failing = run_command(ws, "echo oops >&2; exit 3")
    assert failing.status == RunStatus.SUCCEEDED
    assert failing.output["exit_code"] == 3 and failing.output["stderr"] == "oops\n"

    slow = run_command(ws, "echo started; sleep 30")
    assert slow.status == RunStatus.FAILED
    assert slow.error is not None and slow.error["code"] == "timeout"

    hungry = run_command(ws, "python3 -c 'x = bytearray(3 * 1024 ** 3)'")
    assert hungry.output["exit_code"] != 0 and "MemoryError" in hungry.output["stderr"]

    checked = ws.run(
        "name: Checked\nslug: checked\ntrigger: manual\nsteps:\n"
        "  - {id: c, type: run_command, command: [sh, -c, 'exit 2'], check: true}\n"
    )
    assert checked.status == RunStatus.FAILED
    assert checked.error is not None and checked.error["code"] == "command_failed"
    missing = ws.run(
        "name: Missing\nslug: missing\ntrigger: manual\nsteps:\n"
        "  - {id: c, type: run_command, command: no-such-program-xyz}\n"
    )
    assert missing.output["exit_code"] == 127


def test_run_command_has_no_network(ws: Workspace) -> None:
    if not NETNS:
        pytest.skip("this kernel gives unprivileged users no network namespaces")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        ws.import_dsl(COMMAND)
        probe = (
            'python3 -c "import socket; s = socket.socket(); s.settimeout(2); '
            f"s.connect(('127.0.0.1', {port})); print('connected')\""
        )
        handle = run_command(ws, probe)
        assert handle.status == RunStatus.SUCCEEDED, handle.steps
        assert "connected" not in handle.output["stdout"]
        assert handle.output["exit_code"] != 0
    finally:
        server.close()


def test_web_search_errors_are_clear(ws: Workspace, searx: FakeSearxng) -> None:
    doc = (
        "name: Search\nslug: search\ntrigger: manual\nsteps:\n"
        "  - {id: s, type: web_search, query: '{{ trigger.q }}', max_results: 3}\n"
    )
    ws.import_dsl(doc)
    ok = ws.run("search", {"q": "weather"})
    assert ok.status == RunStatus.SUCCEEDED and ok.output["count"] == 3
    broken = ws.run("search", {"q": "explode"})
    assert broken.status == RunStatus.FAILED
    assert broken.error is not None and broken.error["code"] == "search_failed"
    assert "500" in broken.error["message"]
    ws.engine.services.search = None
    none = ws.run("search", {"q": "weather"})
    assert none.error is not None and none.error["code"] == "no_search_backend"
    assert "PLAIT_TOOLS__SEARXNG_URL" in none.error["message"]
