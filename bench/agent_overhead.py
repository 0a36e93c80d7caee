"""Agent overhead: a 10-step tool-calling agent through Plait vs the same loop written directly
with LangChain (``ChatOpenAI.bind_tools`` + a Python loop), in one process, against the scripted
mock LLM with no latency (issue 4, item 10).

The agent is asked to count to nine with a calculator: 10 model calls (9 of them call the
``calculator`` tool once, the last answers). Plait runs go through the public facade
(``Workspace.run``: a workflow on an embedded SQLite workspace with durable checkpoints — run,
step records for the trigger, the agent and each tool call's events, the agent's journal — a
credential resolved and decrypted per call, usage and cost counted). The LangChain baseline
builds the client once, sends the same messages and computes the same arithmetic with the
same evaluator. Runs alternate between the two so machine noise hits both alike; both variants
are measured with and without token streaming.

    python bench/agent_overhead.py [--quick] [--runs N]

The mock runs as ``plait mock-llm`` in its own process (latency 0). Prints one JSON object:
{"invoke": {...}, "stream": {...}} with ms per run (median), the ratio Plait / LangChain and
the time of ten bare model calls (the floor both share). The overhead that matters is
``plait_ms_per_run - langchain_ms_per_run`` (per agent run: 10 model calls + 9 tool calls).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from nodes.safe_math import evaluate
from workspace.runtime.workspace import Workspace
from workspace.settings import Settings

KEY = "sk-bench-agent-overhead"
MODEL = "gpt-4o-mini"
SYSTEM = "You count with the calculator."
QUESTION = "count to nine with the calculator"
TOOL = "count_calculator"  # the name Plait gives the agent's attached calculator

SCRIPT: dict[str, Any] = {
    "api_key": KEY,
    "rules": [
        {"match": r'^\{"output": 9\}$', "role": "tool", "content": "done at 9"},
        {
            "match": r'^\{"output": (\d)\}$',
            "role": "tool",
            "tool_calls": [{"name": TOOL, "arguments": {"expression": "\\1 + 1"}}],
        },
        {
            "match": "count to nine",
            "tool_calls": [{"name": TOOL, "arguments": {"expression": "0 + 1"}}],
        },
    ],
}


def workflow(stream: bool) -> str:
    return f"""
name: Counter {"stream" if stream else "invoke"}
slug: counter-{"stream" if stream else "invoke"}
trigger: manual
model: {{credential: mock, model_name: {MODEL}}}
steps:
  - id: count
    type: agent
    system_prompt: {SYSTEM}
    prompt: "{{{{ trigger.text }}}}"
    max_steps: 12
    stream: {str(stream).lower()}
    tools: [calculator]
"""


CALCULATOR_SCHEMA = {
    "type": "function",
    "function": {
        "name": TOOL,
        "description": "Evaluate an arithmetic expression safely.",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"description": "Arithmetic expression."}},
            "required": ["expression"],
        },
    },
}


def langchain_agent(client: Any, stream: bool) -> tuple[str, int]:
    """The same tool-calling loop, by hand: returns (answer, tool calls)."""
    bound = client.bind_tools([CALCULATOR_SCHEMA])
    messages: list[BaseMessage] = [SystemMessage(SYSTEM), HumanMessage(QUESTION)]
    calls = 0
    for _ in range(12):
        if stream:
            merged: Any = None
            for chunk in bound.stream(messages):
                merged = chunk if merged is None else merged + chunk
            reply = merged
        else:
            reply = bound.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            return str(reply.content), calls
        for call in reply.tool_calls:
            calls += 1
            result = {"output": evaluate(call["args"]["expression"])}
            messages.append(ToolMessage(json.dumps(result), tool_call_id=str(call["id"])))
    raise RuntimeError("no final answer")


@contextmanager
def mock_llm(tmp: Path) -> Iterator[str]:
    """``plait mock-llm`` with the script, in its own process (as users run it); yields the
    OpenAI base URL. (Served from a thread of the measuring process instead, every
    non-streamed answer took ~40 ms more: the two would also share one GIL.)"""
    path = tmp / "script.yaml"
    path.write_text(yaml.safe_dump(SCRIPT))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    plait = Path(sys.executable).with_name("plait")
    proc = subprocess.Popen(
        [str(plait), "mock-llm", "--script", str(path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("plait mock-llm did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="few runs; well under 60 s")
    ap.add_argument("--runs", type=int, default=None)
    args = ap.parse_args()
    runs = args.runs or (12 if args.quick else 60)
    warmup = 3

    tmp = Path(tempfile.mkdtemp(prefix="plait-bench-agent-"))
    result: dict[str, Any] = {}
    with mock_llm(tmp) as base_url:
        ws = Workspace.open(tmp / "plait", settings=Settings(workspace_dir=tmp / "plait"))
        ws.credentials.create("mock", "openai", KEY, base_url=base_url)
        for stream in (False, True):
            ws.import_dsl(workflow(stream))
            client = ChatOpenAI(
                model=MODEL,
                base_url=base_url,
                api_key=SecretStr(KEY),
                max_retries=0,
                streaming=stream,
                stream_usage=True,
            )
            plait_t: list[float] = []
            lc_t: list[float] = []
            mock_t: list[float] = []
            for i in range(warmup + runs):
                t0 = time.perf_counter()
                handle = ws.run(f"counter-{'stream' if stream else 'invoke'}", {"text": QUESTION})
                t1 = time.perf_counter()
                answer, calls = langchain_agent(client, stream)
                t2 = time.perf_counter()
                assert handle.status.value == "succeeded", handle.error
                assert handle.output["output"] == answer == "done at 9", (handle.output, answer)
                assert handle.output["tool_calls"] == calls == 9
                if i >= warmup:
                    plait_t.append((t1 - t0) * 1000)
                    lc_t.append((t2 - t1) * 1000)
            # ten bare calls to the mock: the floor both sides share
            for _ in range(runs):
                t0 = time.perf_counter()
                for _call in range(10):
                    client.invoke([HumanMessage(QUESTION)])
                mock_t.append((time.perf_counter() - t0) * 1000)
            p, lc = statistics.median(plait_t), statistics.median(lc_t)
            result["stream" if stream else "invoke"] = {
                "plait_ms_per_run": round(p, 2),
                "langchain_ms_per_run": round(lc, 2),
                "ratio": round(p / lc, 3),
                "overhead_ms_per_run": round(p - lc, 2),
                "overhead_ms_per_model_call": round((p - lc) / 10, 2),
                "ten_bare_calls_ms": round(statistics.median(mock_t), 2),
                "model_calls": 10,
                "tool_calls": 9,
                "runs": runs,
            }
        ws.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
