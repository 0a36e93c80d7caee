"""``Ledger``: what a run spends on LLMs, checked against its workflow's ``budget:`` (SPEC §7).

A child run's ledger has its parent's as ``parent``: what the child spends counts for the
parent too, so costs add up across sub-workflows and a parent's budget covers its children.
Once a ledger is over its budget it stays over (``exceeded``): the run stops at its next node.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from workspace.domain.usage import Budget, Usage

__all__ = ["Ledger"]


@dataclass
class Ledger:
    budget: Budget | None = None
    #: spent by this run (and its children) so far
    spent: Usage = field(default_factory=Usage)
    #: spent today by the workflow's other runs (for ``workflow_usd_per_day``)
    workflow_today: Usage = field(default_factory=Usage)
    parent: Ledger | None = None
    exceeded: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, tokens: int, cost: float | None) -> str | None:
        """Count one LLM call here and in every ancestor; the reason the first ledger that is
        now over its budget gives, else None."""
        step = Usage(tokens, cost or 0.0, 1 if cost is None else 0)
        reason = None
        ledger: Ledger | None = self
        while ledger is not None:
            found = ledger._count(step)
            reason = reason or found
            ledger = ledger.parent
        return reason

    def over(self) -> str | None:
        """Why this run (or an ancestor) may not go on, or None."""
        ledger: Ledger | None = self
        while ledger is not None:
            if ledger.exceeded:
                return ledger.exceeded
            ledger = ledger.parent
        return None

    def _count(self, step: Usage) -> str | None:
        with self._lock:
            self.spent = self.spent + step
            if self.exceeded is None:
                self.exceeded = self._check()
            return self.exceeded

    def _check(self) -> str | None:
        budget = self.budget
        if budget is None:
            return None
        spent = self.spent
        if budget.prices_needed and spent.unpriced:
            return (
                "a model without a known price was used, so the USD budget cannot be kept "
                "(set its price in PLAIT_AI__MODELS)"
            )
        if budget.run_tokens is not None and spent.tokens > budget.run_tokens:
            return f"the run used {spent.tokens} tokens of its budget of {budget.run_tokens}"
        if budget.run_usd is not None and spent.cost > budget.run_usd:
            return f"the run spent ${spent.cost:.6f} of its ${budget.run_usd:g} budget"
        day = budget.workflow_usd_per_day
        if day is not None and spent.cost + self.workflow_today.cost > day:
            total = spent.cost + self.workflow_today.cost
            return f"the workflow spent ${total:.6f} today of its ${day:g} daily budget"
        return None
