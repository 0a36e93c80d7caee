"""A small node registry for DSL tests (stand-ins; the real types live in nodes/)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workspace.domain import DataType, EdgeKind
from workspace.sdk import NodeRegistry, NodeType, Port


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Trigger(NodeType):
    category = "trigger"
    is_trigger = True
    inputs = ()
    outputs = (Port(name="output", type=DataType.OBJECT),)


class ManualTrigger(_Trigger):
    name = "trigger_manual"


class ChatTrigger(_Trigger):
    name = "trigger_chat"


class WebhookConfig(_Strict):
    path: str | None = None
    auth: Literal["none", "header", "hmac"] = "none"
    secret: str | None = None


class WebhookTrigger(_Trigger):
    name = "trigger_webhook"
    Config = WebhookConfig


class WorkflowTrigger(_Trigger):
    name = "trigger_workflow"


class ScheduleConfig(_Strict):
    cron: str | None = None
    interval_s: float | None = None


class ScheduleTrigger(_Trigger):
    name = "trigger_schedule"
    Config = ScheduleConfig


class CodeConfig(_Strict):
    code: str = ""
    language: Literal["python"] = "python"


class Code(NodeType):
    name = "code"
    Config = CodeConfig
    raw_fields = frozenset({"code"})
    content_fields = ("code",)


class TransformConfig(_Strict):
    template: Any = None


class Transform(NodeType):
    name = "transform"
    Config = TransformConfig
    content_fields = ("template",)


class Rule(_Strict):
    field: str
    operator: str = "equals"
    value: Any = None
    route: str


class SwitchConfig(_Strict):
    rules: list[Rule] = Field(default_factory=list)
    default: str | None = None
    case_insensitive: bool = False


class Switch(NodeType):
    name = "switch"
    Config = SwitchConfig
    routes = True
    raw_fields = frozenset({"rules"})

    def route_values(self, config: dict[str, Any]) -> set[str] | None:
        out = {
            r["route"]
            for r in config.get("rules") or []
            if isinstance(r, dict) and isinstance(r.get("route"), str)
        }
        if isinstance(config.get("default"), str):
            out.add(config["default"])
        return out


class Condition(_Strict):
    field: str
    operator: str = "equals"
    value: Any = None


class AssertionConfig(_Strict):
    rules: list[Condition] = Field(default_factory=list)


class Assertion(NodeType):
    name = "assertion"
    Config = AssertionConfig
    routes = True
    static_routes = ("pass", "fail")


class HumanConfig(_Strict):
    message: str = ""
    timeout_s: float | None = None


class Human(NodeType):
    name = "human"
    aliases = ("human_confirmation",)
    Config = HumanConfig
    routes = True
    static_routes = ("approved", "rejected")
    content_fields = ("message",)


class LoopConfig(_Strict):
    over: Any = None
    max_iterations: int = Field(default=100, ge=1)
    mode: Literal["sequential", "parallel"] = "sequential"


class Loop(NodeType):
    name = "loop"
    Config = LoopConfig
    inputs = (Port(name="input"), Port(name="return"))
    outputs = (Port(name="body"), Port(name="done", type=DataType.ARRAY))
    raw_fields = frozenset({"over"})


class MergeConfig(_Strict):
    strategy: Literal["dict", "list"] = "dict"


class Merge(NodeType):
    name = "merge"
    Config = MergeConfig


class ReplyConfig(_Strict):
    message: str = ""


class Reply(NodeType):
    name = "reply"
    aliases = ("reply_chat",)
    Config = ReplyConfig
    side_effects = True


class HttpConfig(_Strict):
    url: str = ""
    method: Literal["GET", "POST", "PUT", "DELETE"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    timeout_s: float = 30.0
    credential: str | None = None


class HttpRequest(NodeType):
    name = "http_request"
    aliases = ("http",)
    Config = HttpConfig
    side_effects = True
    content_fields = ("url",)


class SubworkflowConfig(_Strict):
    workflow: str | None = None
    slug: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class Subworkflow(NodeType):
    name = "subworkflow"
    aliases = ("workflow",)
    Config = SubworkflowConfig


class WaitConfig(_Strict):
    duration: float = 0
    unit: Literal["seconds", "minutes", "hours"] = "seconds"


class Wait(NodeType):
    name = "wait"
    Config = WaitConfig


class AgentConfig(_Strict):
    prompt: str = ""
    share_trace: bool = False


class Agent(NodeType):
    name = "agent"
    aliases = ("deep_agent",)
    category = "ai"
    Config = AgentConfig
    attachments = frozenset({EdgeKind.TOOL, EdgeKind.LLM, EdgeKind.MEMORY})
    content_fields = ("prompt",)


class Category(_Strict):
    name: str
    description: str = ""


class CategorizerConfig(_Strict):
    categories: list[Category | str] = Field(default_factory=list)
    prompt: str = ""


class Categorizer(NodeType):
    name = "categorizer"
    category = "ai"
    Config = CategorizerConfig
    routes = True
    attachments = frozenset({EdgeKind.TOOL, EdgeKind.LLM, EdgeKind.MEMORY})

    def route_values(self, config: dict[str, Any]) -> set[str] | None:
        out: set[str] = set()
        for c in config.get("categories") or []:
            if isinstance(c, str):
                out.add(c)
            elif isinstance(c, dict) and isinstance(c.get("name"), str):
                out.add(c["name"])
        return out


class AiModelConfig(BaseModel):
    model_config = ConfigDict(extra="allow")


class AiModel(NodeType):
    name = "ai_model"
    category = "ai"
    Config = AiModelConfig


class MemoryConfig(_Strict):
    scope: Literal["run", "user", "workflow", "global"] = "user"


class Memory(NodeType):
    name = "memory"
    category = "memory"
    Config = MemoryConfig


class Calculator(NodeType):
    name = "calculator"
    category = "tool"


class CodeExecute(NodeType):
    name = "code_execute"
    category = "tool"


class WebSearchConfig(_Strict):
    backend: str = "searxng"
    url: str | None = None


class WebSearch(NodeType):
    name = "web_search"
    category = "tool"
    Config = WebSearchConfig


class JsonSource(NodeType):
    """Typed ports: emits an object."""

    name = "json_source"
    outputs = (Port(name="output", type=DataType.OBJECT),)


class TextSinkConfig(_Strict):
    text: str = ""


class TextSink(NodeType):
    """Typed ports: takes a string."""

    name = "text_sink"
    Config = TextSinkConfig
    inputs = (Port(name="input", type=DataType.STRING),)


class OpenConfig(BaseModel):
    model_config = ConfigDict(extra="allow")


class Generic(NodeType):
    """Accepts any JSON config (for round-trip property tests)."""

    name = "generic"
    Config = OpenConfig


ALL_TYPES: list[type[NodeType]] = [
    ManualTrigger,
    ChatTrigger,
    WebhookTrigger,
    WorkflowTrigger,
    ScheduleTrigger,
    Code,
    Transform,
    Switch,
    Assertion,
    Human,
    Loop,
    Merge,
    Reply,
    HttpRequest,
    Subworkflow,
    Wait,
    Agent,
    Categorizer,
    AiModel,
    Memory,
    Calculator,
    CodeExecute,
    WebSearch,
    JsonSource,
    TextSink,
    Generic,
]


def make_registry() -> NodeRegistry:
    return NodeRegistry(ALL_TYPES)
