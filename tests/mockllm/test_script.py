"""Mock LLM scripts: validation with clear errors, rule order, `times`, `role`, and the
`plait mock-llm` command as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from workspace.errors import ValidationError
from workspace.mockllm import load_script
from workspace.mockllm.conversation import Turn, anthropic_turn, openai_turn
from workspace.mockllm.responder import Reply, Responder


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules: [", "not valid YAML"),
        ("rules: []", "rules: List should have at least 1 item"),
        ("rules: [{match: '('}]", "invalid regex"),
        ("rules: [{match: x}]", "a rule answers with `content` and/or `tool_calls`, or with"),
        ("rules: [{match: x, content: a, error: {status: 500}}]", "a rule answers"),
        ("rules: [{match: x, content: a, colour: red}]", "rules.0.colour: Extra inputs"),
        ("rules: [{match: x, error: {status: 200}}]", "rules.0.error.status"),
        ("- just a list", "Input should be a valid dictionary"),
    ],
)
def test_bad_scripts_say_what_is_wrong(text: str, expected: str) -> None:
    with pytest.raises(ValidationError) as err:
        load_script(text)
    assert err.value.code == "mock_script_invalid"
    assert expected in err.value.message


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read mock LLM script"):
        load_script(tmp_path / "nope.yaml")


def answered(responder: Responder, turn: Turn) -> tuple[int, str | None]:
    """The rule index and text content a turn gets (it must get an answer)."""
    found = responder.answer(turn)
    assert found is not None
    index, reply = found
    assert isinstance(reply, Reply)
    return index, reply.content


def test_first_matching_rule_wins_and_times_runs_out() -> None:
    responder = Responder(
        load_script(
            {
                "rules": [
                    {"match": "a", "content": "once", "times": 1},
                    {"match": "a", "content": "always"},
                    {"match": ".", "content": "fallback"},
                ]
            }
        )
    )
    turn = openai_turn({"model": "m", "messages": [{"role": "user", "content": "a"}]})
    assert [answered(responder, turn) for _ in range(3)] == [
        (0, "once"),
        (1, "always"),
        (1, "always"),
    ]
    responder.reset()
    assert answered(responder, turn) == (0, "once")


def test_roles_providers_and_models_narrow_a_rule() -> None:
    script = load_script(
        {
            "rules": [
                {"match": "42", "role": "tool", "content": "from the tool"},
                {"match": ".", "provider": "anthropic", "content": "claude-ish"},
                {"match": ".", "model": "^big", "content": "big model"},
                {"match": ".", "content": "anything"},
            ]
        }
    )
    responder = Responder(script)
    after_tool = openai_turn(
        {
            "model": "small",
            "messages": [
                {"role": "user", "content": "what is 6*7"},
                {"role": "assistant", "content": None, "tool_calls": []},
                {"role": "tool", "content": "42", "tool_call_id": "c1"},
            ],
        }
    )
    assert answered(responder, after_tool)[1] == "from the tool"
    anthropic = anthropic_turn(
        {
            "model": "small",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            ],
        }
    )
    assert answered(responder, anthropic)[1] == "claude-ish"
    big = openai_turn({"model": "big-1", "messages": [{"role": "user", "content": "hi"}]})
    assert answered(responder, big)[1] == "big model"
    tool_result = anthropic_turn(
        {
            "model": "x",
            "messages": [
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t", "content": "42"}],
                },
            ],
        }
    )
    assert tool_result.latest is not None and tool_result.latest.role == "tool"
    assert answered(responder, tool_result)[1] == "from the tool"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_plait_mock_llm_command_serves_a_script(tmp_path: Path) -> None:
    script = tmp_path / "script.yaml"
    script.write_text("rules:\n  - {match: ping, content: pong}\n")
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workspace.cli.main",
            "mock-llm",
            "--script",
            str(script),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/_mock/health").json() == {"status": "ok", "scripted": True}:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the mock LLM never answered"
                time.sleep(0.1)
        body = {"model": "m", "messages": [{"role": "user", "content": "ping"}]}
        r = httpx.post(f"{base}/v1/chat/completions", json=body)
        assert r.headers["x-plait-mock"] == "scripted"
        assert r.json()["choices"][0]["message"]["content"] == "pong"
        put = httpx.put(f"{base}/_mock/script", content="rules: [{match: ping, content: PONG}]")
        assert put.json() == {"status": "loaded", "rules": 1}
        r = httpx.post(f"{base}/v1/chat/completions", json=body)
        assert r.json()["choices"][0]["message"]["content"] == "PONG"
        bad = httpx.put(f"{base}/_mock/script", content="rules: [")
        assert bad.status_code == 400 and "not valid YAML" in bad.json()["error"]
        recorded = httpx.get(f"{base}/_mock/requests").json()
        assert [r["status"] for r in recorded] == [200, 200]
        assert recorded[0]["body"] == body
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    assert b"scripted mock LLM (1 rules" in out


def test_a_bad_script_file_exits_2_without_a_traceback(tmp_path: Path) -> None:
    script = tmp_path / "script.yaml"
    script.write_text("rules: [{match: '('}]")
    proc = subprocess.run(
        [sys.executable, "-m", "workspace.cli.main", "mock-llm", "--script", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "invalid regex" in proc.stderr and "Traceback" not in proc.stderr
