"""Sandboxed tools for agents (SPEC §3 Tools, §9): ``code_execute`` (a Python snippet) and
``run_command`` (a program), both in the ``code`` node's sandbox (:mod:`nodes.sandbox`):
a subprocess with a clean environment, a private temp dir, CPU / memory / time limits, no
network unless the node AND the workspace allow it, as ``nobody`` when the worker is root."""

from __future__ import annotations

import shlex
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nodes.sandbox import SandboxLimits, run_snippet
from workspace.domain import DataType
from workspace.errors import NodeError
from workspace.sdk import NodeContext, NodeType, Port

_TIMEOUT_HELP = "Wall-clock limit; capped by the workspace sandbox `timeout_s`."
_NETWORK_HELP = "Allow network access (only if the workspace sandbox allows it too)."


class CodeExecuteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        default="",
        description="Python 3 function body, standard library only: `return` the result "
        "(JSON values); `print` output is returned as `stdout`. `input` holds the tool's "
        "input when run as a step.",
    )
    timeout_s: float | None = Field(default=None, gt=0, description=_TIMEOUT_HELP)
    allow_network: bool = Field(default=False, description=_NETWORK_HELP)


class CodeExecute(NodeType):
    """Run Python code in the sandbox and return its value and printed output (a tool for
    agents). Output: `{"output": value, "stdout": text}`."""

    name = "code_execute"
    category = "tool"
    Config = CodeExecuteConfig
    raw_fields = frozenset({"code"})
    content_fields = ("code",)
    tool_fields = frozenset({"code"})
    outputs = (
        Port(name="output", type=DataType.ANY, description="the returned value"),
        Port(name="stdout", type=DataType.STRING, description="what the code printed"),
    )

    def execute(self, ctx: NodeContext, config: CodeExecuteConfig, input: Any) -> dict[str, Any]:
        if not config.code.strip():
            raise NodeError("code_execute has no code", code="missing_code", retryable=False)
        limits = SandboxLimits.from_settings(
            ctx.limits, timeout_s=config.timeout_s, allow_network=config.allow_network
        )
        outcome = run_snippet(
            config.code, {"input": input}, limits, check_cancelled=ctx.check_cancelled
        )
        return {"output": outcome.value, "stdout": outcome.stdout}


class RunCommandConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str | list[str] = Field(
        default="",
        description="The program and its arguments: a list, or a string split like a shell "
        "would (no pipes or redirections unless `shell`).",
    )
    shell: bool = Field(default=False, description="Run `command` (a string) with `/bin/sh -c`.")
    stdin: str | None = Field(default=None, description="Text given to the program's stdin.")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables to set; nothing of the worker's is inherited.",
    )
    check: bool = Field(default=False, description="Fail the step when the exit code is not 0.")
    timeout_s: float | None = Field(default=None, gt=0, description=_TIMEOUT_HELP)
    allow_network: bool = Field(default=False, description=_NETWORK_HELP)
    max_output: int = Field(
        default=65_536, ge=1, le=1_048_576, description="Characters kept of stdout and stderr."
    )


#: runs in the sandbox (stdlib only); `input` carries the request
_RUNNER = """
import os, subprocess
env = {k: os.environ[k] for k in ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL") if k in os.environ}
env.update(input["env"])
limit = input["max_output"]
def text(data):
    return (data or b"").decode("utf-8", errors="replace")[-limit:]
try:
    done = subprocess.run(
        input["command"], shell=input["shell"], env=env,
        input=None if input["stdin"] is None else input["stdin"].encode(),
        capture_output=True, timeout=input["timeout_s"],
    )
except subprocess.TimeoutExpired as exc:
    return {"exit_code": None, "timed_out": True, "stdout": text(exc.stdout),
            "stderr": text(exc.stderr)}
except (FileNotFoundError, PermissionError) as exc:
    return {"exit_code": 127, "timed_out": False, "stdout": "", "stderr": str(exc)}
return {"exit_code": done.returncode, "timed_out": False, "stdout": text(done.stdout),
        "stderr": text(done.stderr)}
"""


class RunCommand(NodeType):
    """Run a program in the sandbox (clean environment, private temp dir, limits, no network
    unless allowed). Output: `{"output": stdout, "exit_code", "stdout", "stderr",
    "timed_out"}`."""

    name = "run_command"
    category = "tool"
    Config = RunCommandConfig
    content_fields = ("command",)
    side_effects = True
    tool_fields = frozenset({"command", "shell", "stdin"})
    outputs = (
        Port(name="output", type=DataType.STRING, description="what the program printed"),
        Port(name="exit_code", type=DataType.NUMBER, description="its exit status"),
        Port(name="stderr", type=DataType.STRING, description="its error output"),
    )

    def execute(self, ctx: NodeContext, config: RunCommandConfig, input: Any) -> dict[str, Any]:
        command: str | list[str] = config.command
        if config.shell:
            if not isinstance(command, str):
                command = shlex.join(command)
        elif isinstance(command, str):
            try:
                command = shlex.split(command)
            except ValueError as exc:
                raise NodeError(
                    f"cannot split the command: {exc}", code="bad_command", retryable=False
                ) from None
        if not command:
            raise NodeError("run_command has no command", code="missing_command", retryable=False)
        limits = SandboxLimits.from_settings(
            ctx.limits, timeout_s=config.timeout_s, allow_network=config.allow_network
        )
        request = {
            "command": command,
            "shell": config.shell,
            "stdin": config.stdin,
            "env": config.env,
            "max_output": config.max_output,
            # the program's own limit ends before the sandbox's, so its output is kept
            "timeout_s": max(0.1, limits.timeout_s - 1.0),
        }
        outcome = run_snippet(
            _RUNNER, {"input": request}, limits, check_cancelled=ctx.check_cancelled
        )
        result: dict[str, Any] = dict(outcome.value)
        if result["timed_out"]:
            raise NodeError(
                f"the command ran for more than {request['timeout_s']:g}s and was killed",
                code="timeout",
                retryable=False,
                stdout=result["stdout"],
                stderr=result["stderr"],
            )
        if config.check and result["exit_code"] != 0:
            raise NodeError(
                f"the command exited with status {result['exit_code']}: {result['stderr'][-500:]}",
                code="command_failed",
                retryable=False,
                exit_code=result["exit_code"],
            )
        return {"output": result["stdout"], **result}
