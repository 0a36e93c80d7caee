"""Node types used only by tests. They are real NodeType subclasses run by the real engine."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from workspace.errors import NodeError
from workspace.sdk import NodeContext, NodeResult, NodeType


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CountConfig(_Cfg):
    file: str
    value: Any = None
    sleep_s: float = 0.0


class CountNode(NodeType):
    """Appends its node id to a file each time it executes (proves what ran, and how often)."""

    name = "test_count"
    Config: ClassVar[type[BaseModel]] = CountConfig

    def execute(self, ctx: NodeContext, config: Any, input: Any) -> dict[str, Any]:
        with Path(config.file).open("a") as fh:
            fh.write(ctx.node_id + "\n")
        if config.sleep_s:
            deadline = time.monotonic() + config.sleep_s
            while time.monotonic() < deadline:
                ctx.check_cancelled()
                time.sleep(0.02)
        return {"value": config.value, "input": input}


class FlakyConfig(_Cfg):
    fail_times: int = 1
    code: str = "flaky"
    retryable: bool = True


class FlakyNode(NodeType):
    """Fails the first ``fail_times`` attempts of a run, then succeeds."""

    name = "test_flaky"
    Config: ClassVar[type[BaseModel]] = FlakyConfig

    def execute(self, ctx: NodeContext, config: Any, input: Any) -> dict[str, Any]:
        if ctx.attempt <= config.fail_times:
            raise NodeError(
                f"attempt {ctx.attempt} failed", code=config.code, retryable=config.retryable
            )
        return {"attempt": ctx.attempt}


class SleepConfig(_Cfg):
    seconds: float


class SleepNode(NodeType):
    name = "test_sleep"
    Config: ClassVar[type[BaseModel]] = SleepConfig

    def execute(self, ctx: NodeContext, config: Any, input: Any) -> dict[str, Any]:
        time.sleep(config.seconds)
        return {"slept": config.seconds}


class CancelConfig(_Cfg):
    pass


class CancelSelfNode(NodeType):
    """Cancels its own run the way another process would (through the store)."""

    name = "test_cancel_self"
    Config: ClassVar[type[BaseModel]] = CancelConfig
    workspace: ClassVar[Any] = None

    def execute(self, ctx: NodeContext, config: Any, input: Any) -> dict[str, Any]:
        type(self).workspace.cancel(ctx.run_id)
        return {"cancelled": True}


class AgentLikeConfig(_Cfg):
    prompt: str = ""


class AgentLikeNode(NodeType):
    """Stands in for an AI agent: accepts tool/llm/memory attachments (engine must not run them)."""

    name = "test_agent"
    from workspace.domain.graph import EdgeKind as _K

    attachments = frozenset({_K.TOOL, _K.LLM, _K.MEMORY})

    Config: ClassVar[type[BaseModel]] = AgentLikeConfig

    def execute(self, ctx: NodeContext, config: Any, input: Any) -> NodeResult:
        return NodeResult(output={"answer": config.prompt})


TEST_NODE_TYPES: list[type[NodeType]] = [
    CountNode,
    FlakyNode,
    SleepNode,
    CancelSelfNode,
    AgentLikeNode,
]
