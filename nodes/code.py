"""The ``code`` node: a Python snippet run in the subprocess sandbox (:mod:`nodes.sandbox`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nodes.paths import as_output
from nodes.sandbox import SandboxLimits, run_snippet
from workspace.errors import NodeError
from workspace.sdk import NodeContext, NodeType


class CodeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        default="",
        description="Python function body (`return` works). Sees `input`, `trigger`, "
        "`outputs` (alias `node_outputs`), `loop`, `run` and every completed node id. "
        "Standard library imports only.",
    )
    language: Literal["python"] = Field(default="python", description="Snippet language.")
    timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Wall-clock limit; capped by the workspace sandbox `timeout_s`.",
    )
    allow_network: bool = Field(
        default=False,
        description="Allow network access (only if the workspace sandbox allows it too).",
    )
    capture_stdout: bool = Field(
        default=False, description="Add what the snippet printed to the output as `logs`."
    )


class Code(NodeType):
    """Run a Python snippet in a sandboxed subprocess.

    A returned dict is the output (keys = output ports); any other value becomes
    `{"output": value}`. Values cross the process boundary as JSON, so types are kept
    (tuples become lists). Failures raise `code_error` (with the snippet's line number),
    `bad_return`, `timeout` or `memory_limit`.
    """

    name = "code"
    category = "logic"
    Config = CodeConfig
    raw_fields = frozenset({"code"})
    content_fields = ("code",)

    def execute(self, ctx: NodeContext, config: CodeConfig, input: Any) -> dict[str, Any]:
        if not config.code.strip():
            raise NodeError(
                "the code node has no code", code="missing_code", retryable=False, field="code"
            )
        scope = dict(ctx.scope())
        for name in ("input", "trigger", "outputs", "loop", "run"):
            scope.setdefault(name, None)
        scope["input"] = input
        scope.setdefault("node_outputs", scope["outputs"])
        limits = SandboxLimits.from_settings(
            ctx.limits, timeout_s=config.timeout_s, allow_network=config.allow_network
        )
        outcome = run_snippet(
            config.code, scope, limits, check_cancelled=ctx.check_cancelled, workflow=ctx.workflow
        )
        output = as_output(outcome.value)
        if config.capture_stdout:
            output.setdefault("logs", outcome.stdout)
        return output
