"""``ModelSpec``: how a step (or a workflow, as its default) says which LLM it wants (SPEC §5).

One of four strategies::

    {inherit: true}                                   # the workflow's default model
    {capability: gpt-4o-mini}                         # that model, or a capability tag
                                                      # (tools, vision, json, reasoning)
    {discover: true, preference: cheapest}            # the best model the credentials reach
    {credential: openai-main, model_name: gpt-4o, temperature: 0.2}

plus call parameters (``temperature``, ``max_tokens``, ``timeout_s``, ``max_retries``).
Node types read it from their config; the runtime resolves it to a provider, credential and
model (``workspace.ai``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

__all__ = ["Attached", "ChatModel", "Conversation", "ModelSource", "ModelSpec", "Preference"]

Preference = Literal["cheapest", "fastest", "most_capable"]


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    inherit: bool = Field(default=False, description="Use the workflow's default `model:`.")
    capability: str | None = Field(
        default=None, description="A model name, or a capability tag (tools, vision, json ...)."
    )
    discover: bool = Field(default=False, description="Pick among the models credentials reach.")
    preference: Preference = Field(default="cheapest", description="How `discover` chooses.")
    credential: str | None = Field(default=None, description="Credential name.")
    model_name: str | None = Field(
        default=None,
        validation_alias=AliasChoices("model_name", "model"),
        description="Model to call with `credential` (default: the credential's `model`).",
    )
    temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int | None = Field(default=None, ge=1, description="Most tokens in an answer.")
    timeout_s: float | None = Field(
        default=None, gt=0, description="Time limit of one model call (the call is cancelled)."
    )
    max_retries: int = Field(
        default=0,
        ge=0,
        le=10,
        description="The client's own retries (default none: the node's `retry` policy decides, "
        "and honours a provider's retry-after).",
    )

    @model_validator(mode="after")
    def _one_strategy(self) -> ModelSpec:
        chosen = [
            name
            for name, on in (
                ("inherit", self.inherit),
                ("capability", self.capability is not None),
                ("discover", self.discover),
                ("credential", self.credential is not None),
            )
            if on
        ]
        if len(chosen) > 1:
            raise ValueError(f"choose one model strategy, not {' and '.join(chosen)}")
        if not chosen and self.model_name is None:
            raise ValueError(
                "say which model: inherit, capability, discover, or credential + model_name"
            )
        return self

    @property
    def strategy(self) -> str:
        if self.inherit:
            return "inherit"
        if self.discover:
            return "discover"
        if self.credential is not None:
            return "credential"
        return "capability"  # also a bare `model_name`: that model, from any credential

    def params(self) -> dict[str, Any]:
        """The call parameters that are set."""
        return {
            k: v
            for k, v in (
                ("temperature", self.temperature),
                ("max_tokens", self.max_tokens),
                ("timeout_s", self.timeout_s),
                ("max_retries", self.max_retries),
            )
            if v is not None
        }


@dataclass(frozen=True)
class Attached:
    """A node attached to the running node by an ``llm`` / ``tool`` / ``memory`` edge."""

    node_id: str
    type: str
    kind: str  # "llm" | "tool" | "memory"
    config: dict[str, Any]
    label: str | None = None


@dataclass(frozen=True)
class ChatModel:
    """A ready LangChain chat model and what may be shown about it (never the secret)."""

    client: Any
    described: dict[str, Any]
    #: USD for (input_tokens, output_tokens); None when the model's price is unknown
    price: Callable[[int, int], float | None]
    context_window: int | None = None


class ModelSource(Protocol):
    """Resolves model specs for a workflow (implemented by the runtime)."""

    def chat(
        self,
        spec: ModelSpec | Mapping[str, Any] | None,
        *,
        workflow_id: str,
        default: Any,
        streaming: bool,
    ) -> ChatModel: ...


class Conversation(Protocol):
    """The messages of one conversation thread (user + channel + workflow), kept across runs."""

    @property
    def thread(self) -> str: ...

    def messages(self) -> list[Any]:
        """LangChain messages, oldest first."""
        ...

    def append(self, messages: Sequence[Any]) -> None:
        """Add messages; a message whose ``id`` is already stored replaces it (so a node that
        runs again after a crash does not repeat itself)."""
        ...
