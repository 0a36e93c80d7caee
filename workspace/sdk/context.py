"""What a running node may ask of the engine. The engine implements this protocol."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from workspace.sdk.memory import AgentMemory
    from workspace.sdk.models import Attached, ChatModel, Conversation
    from workspace.sdk.platform import Platform
    from workspace.sdk.search import SearchBackend

T = TypeVar("T")


@dataclass(frozen=True)
class LoopInfo:
    item: Any
    index: int
    total: int

    def as_dict(self) -> dict[str, Any]:
        return {"item": self.item, "index": self.index, "total": self.total}


class NodeContext(Protocol):
    run_id: str
    node_id: str
    workflow: str
    attempt: int
    #: "" outside loops, "<loop_id>[<i>]/..." inside loop bodies
    iteration: str
    trigger: Any
    outputs: Mapping[str, Any]
    loop: LoopInfo | None

    @property
    def idempotency_key(self) -> str:
        """``{run_id}:{node_id}:{iteration}``: stable across retries and resumes."""
        ...

    def lookup(self, path: str) -> Any:
        """Resolve a dotted routing path (``trigger.payload.items[0].id``, ``fetch.status``,
        ``node_outputs.fetch.status``, ``input.x``). Raises ExpressionError if absent."""
        ...

    def has_path(self, path: str) -> bool: ...

    def render(self, value: Any, *, field: str) -> Any:
        """Render a template (recursively through lists/dicts) against this node's scope."""
        ...

    def scope(self) -> dict[str, Any]:
        """Read-only variables for expressions and code: input, trigger, outputs, loop, run, ids."""
        ...

    def emit(self, event_type: str, data: dict[str, Any]) -> None:
        """Emit a node-level event (``token``, ``tool_started`` ...)."""
        ...

    def interrupt(self, request: dict[str, Any]) -> Any:
        """Pause the run for a human; returns the answer once resumed (may re-execute the node)."""
        ...

    def wait_until(self, when: datetime) -> None:
        """Durable timer: returns once ``when`` has passed (the run may be suspended meanwhile)."""
        ...

    def run_workflow(self, slug: str, payload: Any) -> Any:
        """Run another workflow as a child run and return its output (raises if it failed)."""
        ...

    def run_loop_body(self, loop: LoopInfo) -> Any:
        """Run this loop node's body once for ``loop``; returns the body's result."""
        ...

    def journal(self, key: str, fn: Callable[[], T]) -> T:
        """The value recorded under ``key`` for this run; else call ``fn``, record, return it."""
        ...

    def check_cancelled(self) -> None:
        """Raise the engine's cancellation signal if the run was cancelled."""
        ...

    @property
    def limits(self) -> Mapping[str, Any]:
        """Sandbox limits: timeout_s, memory_mb, cpu_s, allow_network, python."""
        ...

    # -- AI nodes (attachments, models, tools, usage, conversation memory) ---------------------

    def attached(self, kind: str) -> Sequence[Attached]:
        """Nodes attached to this one by ``kind`` edges (``llm``, ``tool``, ``memory``)."""
        ...

    def chat_model(self, spec: Any = None, *, streaming: bool = False) -> ChatModel:
        """A chat model for ``spec`` (a ModelSpec or its dict); None: this node's ``llm``
        attachment, else the workflow's default ``model:``."""
        ...

    def call_tool(self, node_id: str, arguments: Mapping[str, Any]) -> Any:
        """Run the attached tool node ``node_id`` with ``arguments`` filling its open config
        fields; returns its output (raises NodeError when it fails). Emits ``tool_started`` /
        ``tool_finished``; a side-effecting tool is journaled (never repeated on resume)."""
        ...

    def add_usage(self, input_tokens: int, output_tokens: int, cost: float | None) -> None:
        """Count an LLM call's tokens and cost (None: unknown) on this node's step."""
        ...

    def conversation(self) -> Conversation:
        """This run's conversation thread (user + channel + workflow)."""
        ...

    # -- memory, tools and the platform ------------------------------------------------------

    @property
    def memory(self) -> AgentMemory:
        """Long-term memory (facts, episodes, identities) of this run's owner space; raises
        NodeError ``no_memory_store`` when the engine has none."""
        ...

    @property
    def web_search(self) -> SearchBackend:
        """The workspace's web search backend; NodeError ``no_search_backend`` if none."""
        ...

    @property
    def platform(self) -> Platform:
        """Plait itself, as the workflow's owner sees it (self-awareness tools)."""
        ...
