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

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

__all__ = ["ModelSpec", "Preference"]

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
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    timeout_s: float | None = Field(default=None, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)

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
