"""AI node types: ``agent`` (alias ``deep_agent``) and the attachment types ``ai_model`` and
``memory`` (SPEC §3 AI, §4.2, §7).

An agent runs a tool-calling loop over a LangChain chat model: its model comes from its
``ai_model`` attachment (else the workflow's default ``model:``), its tools from ``tool``
attachments (each an ordinary node type run with the model's arguments filling its open config
fields), and with a ``memory`` attachment the conversation of its thread (user + channel +
workflow) is kept across runs. Tokens stream as ``token`` events; tool calls show as
``tool_started`` / ``tool_finished``. Only the final answer enters shared state, unless
``share_trace``.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    messages_to_dict,
)
from pydantic import BaseModel, ConfigDict, Field

from nodes.llm import ask, message_text, trim_to_window
from nodes.summarize import summarize_to_window
from workspace.domain import DataType, EdgeKind
from workspace.errors import NodeError
from workspace.sdk import NodeContext, NodeType, Port
from workspace.sdk.models import ModelSpec


class AttachmentOnly(NodeType):
    """Base of sub-components: configured on the node they attach to, never scheduled."""

    category = "ai"
    inputs = ()

    def execute(self, ctx: NodeContext, config: Any, input: Any) -> dict[str, Any]:
        raise NodeError(
            f"{self.name} is a sub-component: attach it to an agent", code="not_runnable",
            retryable=False,
        )  # fmt: skip


class AiModel(AttachmentOnly):
    """The model an AI step uses: `{credential, model_name, temperature, ...}`, or a strategy
    (`inherit`, `capability`, `discover`)."""

    name = "ai_model"
    Config = ModelSpec


class MemoryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_messages: int = Field(
        default=40, ge=2, le=1000, description="Messages of the thread sent to the model."
    )


class Memory(AttachmentOnly):
    """Conversation memory of an agent: its thread (user + channel + workflow) across runs."""

    name = "memory"
    Config = MemoryConfig


class AgentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: Any = Field(
        default=None,
        description="The user message (template). Default: the trigger's `text`, else the input.",
    )
    system_prompt: str | None = Field(default=None, description="Instructions (template).")
    max_steps: int = Field(
        default=10, ge=1, le=100, description="Model calls at most (each may call tools)."
    )
    share_trace: bool = Field(
        default=False, description="Put the whole message trace (tool calls too) in the output."
    )
    stream: bool = Field(default=True, description="Stream tokens as `token` events.")
    summarize: bool = Field(
        default=False,
        description="When the conversation outgrows the model's window, summarize its oldest "
        "part with the same model into a system note (default: drop the oldest messages).",
    )


def default_text(ctx: NodeContext, input: Any) -> str:
    """What an AI step works on when no prompt is given: a chat message's text, else the
    input (a string as is, anything else as JSON)."""
    trigger = ctx.trigger
    chat_text = trigger.get("text") if isinstance(trigger, dict) else None
    if isinstance(chat_text, str) and (input is None or input == trigger):
        return chat_text
    if isinstance(input, dict) and set(input) == {"output"}:
        input = input["output"]
    if isinstance(input, str):
        return input
    return json.dumps(input, default=str)


class Agent(NodeType):
    """A tool-calling LLM agent. Output: `{"output": answer, "model": {...}, "tool_calls": n}`."""

    name = "agent"
    aliases = ("deep_agent",)
    category = "ai"
    Config = AgentConfig
    outputs = (Port(name="output", type=DataType.STRING, description="the final answer"),)
    attachments = frozenset({EdgeKind.LLM, EdgeKind.TOOL, EdgeKind.MEMORY})
    #: its result is journaled: a resumed or re-run workflow never pays for it twice
    side_effects = True
    content_fields = ("prompt",)

    def execute(self, ctx: NodeContext, config: AgentConfig, input: Any) -> dict[str, Any]:
        model = ctx.chat_model(streaming=config.stream)
        tools = [ctx.tool_spec(t.node_id) for t in ctx.attached("tool")]
        tool_defs = [{"type": "function", "function": t} for t in tools]
        memory = ctx.attached("memory")
        conversation = ctx.conversation() if memory else None
        history: list[BaseMessage] = []
        if conversation is not None:
            limit = int(memory[0].config.get("max_messages", 40))
            history = conversation.messages()[-limit:]
        text = config.prompt if config.prompt is not None else default_text(ctx, input)
        if not isinstance(text, str):
            text = json.dumps(text, default=str)
        key = ctx.idempotency_key
        question = HumanMessage(text, id=f"{key}:user")
        messages: list[BaseMessage] = []
        if config.system_prompt:
            messages.append(SystemMessage(config.system_prompt))
        messages += [*history, question]
        model_name = str(model.described.get("model", ""))
        calls = 0
        for _ in range(config.max_steps):
            if config.summarize:
                messages = summarize_to_window(ctx, model, messages, model_name=model_name)
            else:
                messages = trim_to_window(messages, model.context_window, model_name=model_name)
            reply = ask(ctx, model, messages, tools=tool_defs, stream=config.stream)
            messages.append(reply)
            if reply.invalid_tool_calls:
                bad = reply.invalid_tool_calls[0]
                raise NodeError(
                    f"the model sent a malformed call of tool {bad.get('name')!r}: "
                    f"{bad.get('error') or bad.get('args')}",
                    code="malformed_tool_call",
                    node_id=ctx.node_id,
                )
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:
                calls += 1
                try:
                    result = ctx.call_tool(call["name"], call["args"])
                    content = json.dumps(result, default=str)
                except NodeError as exc:  # the model sees the failure and may correct itself
                    content = json.dumps({"error": exc.code, "message": exc.message})
                messages.append(ToolMessage(content, tool_call_id=str(call["id"])))
        else:
            raise NodeError(
                f"the agent made {config.max_steps} model calls without a final answer",
                code="max_steps",
                node_id=ctx.node_id,
                retryable=False,
            )
        answer = message_text(messages[-1])
        if conversation is not None:
            # this turn: from the question on (older messages may have been trimmed/summarized)
            asked = next((i for i, m in enumerate(messages) if m.id == question.id), 0)
            kept = messages[asked:]
            if not config.share_trace:
                kept = [question, AIMessage(answer, id=f"{key}:answer")]
            else:
                kept = [m if m.id else m.model_copy(update={"id": f"{key}:{i}"})
                        for i, m in enumerate(kept)]  # fmt: skip
            conversation.append(kept)
        out: dict[str, Any] = {"output": answer, "model": model.described, "tool_calls": calls}
        if config.share_trace:
            out["messages"] = messages_to_dict(messages)
        return out
