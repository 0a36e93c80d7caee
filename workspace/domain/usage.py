"""LLM usage and budgets (SPEC §7): tokens and cost summed over steps, and the limits a
workflow sets on them.

A cost is only a sum of *known* costs: steps whose model has no known price are counted in
``unpriced``, so a total is never an unknown passed off as $0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Budget", "Usage"]


@dataclass(frozen=True)
class Usage:
    tokens: int = 0
    cost: float = 0.0
    #: steps that used a model whose price is unknown
    unpriced: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.tokens + other.tokens, self.cost + other.cost, self.unpriced + other.unpriced
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "cost_usd": round(self.cost, 8) if not self.unpriced else None,
            "known_cost_usd": round(self.cost, 8),
            "unpriced_steps": self.unpriced,
        }


class Budget(BaseModel):
    """``budget:`` of a workflow: a number is ``run_usd``; or a mapping of these limits."""

    model_config = ConfigDict(extra="forbid")

    run_usd: float | None = Field(default=None, ge=0, description="Most USD one run may spend.")
    run_tokens: int | None = Field(default=None, ge=1, description="Most tokens one run may use.")
    workflow_usd_per_day: float | None = Field(
        default=None, ge=0, description="Most USD all runs of the workflow may spend per UTC day."
    )

    @model_validator(mode="before")
    @classmethod
    def _number(cls, data: Any) -> Any:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return {"run_usd": data}
        return data

    @property
    def prices_needed(self) -> bool:
        return self.run_usd is not None or self.workflow_usd_per_day is not None
