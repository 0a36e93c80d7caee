"""``UsageLine``: a run's LLM tokens and cost as the run view shows them.

While the run goes on, the totals are summed from the ``tokens`` / ``cost`` that
``node_succeeded`` / ``node_failed`` events carry; once it is over they are the stored run's
usage (``RunHandle.usage``: its steps and its sub-workflow runs). A step whose model has no
known price makes the cost *unknown* — shown as such, never as $0. A scripted mock model is
named as one, so its $0 is not taken for a real model's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

from workspace.domain.usage import Usage

__all__ = ["UsageLine", "format_usd"]


def format_usd(cost: float) -> str:
    if cost == 0:
        return "$0"
    if cost < 0.01:
        return f"${cost:.6f}".rstrip("0")
    return f"${cost:.4f}"


@dataclass
class UsageLine:
    #: per (node, iteration), from the node events seen so far
    live: dict[tuple[str, str], Usage] = field(default_factory=dict)
    #: the stored run's usage, once the run is over
    final: Usage | None = None
    #: a step answered through a scripted mock model
    scripted: bool = False

    def node_finished(self, node_id: str, data: dict[str, Any]) -> None:
        tokens = data.get("tokens")
        if tokens is None:
            return
        cost = data.get("cost")
        self.live[(node_id, str(data.get("iteration", "")))] = Usage(
            int(tokens), float(cost or 0.0), 1 if cost is None else 0
        )
        model = (data.get("output") or {}).get("model") if isinstance(data, dict) else None
        if isinstance(model, dict) and model.get("scripted"):
            self.scripted = True

    @property
    def total(self) -> Usage | None:
        """None while no step has reported LLM usage."""
        if self.final is not None:
            return self.final if (self.final.tokens or self.final.unpriced) else None
        if not self.live:
            return None
        return sum(self.live.values(), Usage())

    @property
    def tokens(self) -> int | None:
        total = self.total
        return None if total is None else total.tokens

    @property
    def cost(self) -> float | None:
        """USD, or None when no usage was reported or a price is unknown."""
        total = self.total
        return None if total is None or total.unpriced else total.cost

    def text(self) -> str:
        total = self.total
        if total is None:
            return ""
        parts = [f"{total.tokens:,} tokens"]
        if not total.unpriced:
            parts.append(f"cost {format_usd(total.cost)}")
        else:
            steps = f"{total.unpriced} step{'s' if total.unpriced != 1 else ''}"
            known = f", {format_usd(total.cost)} known" if total.cost else ""
            parts.append(f"cost unknown ({steps} with an unpriced model{known})")
        if self.scripted:
            parts.append("scripted mock model: no real model was called")
        return " · ".join(parts)

    def html(self) -> str:
        text = self.text()
        if not text:
            return ""
        state = "final" if self.final is not None else "live"
        return f'<div class="plait-usage" data-usage="{state}">{escape(text)}</div>'
