"""``ModelCatalog``: what Plait knows about models — provider, context window, prices,
capabilities and a speed class — used to resolve ``model:`` strategies (SPEC §5) and to cost
LLM calls (SPEC §7).

The built-in table is a starting point, not the truth: prices change. Settings add or override
entries (``PLAIT_AI__MODELS``), and a model the catalog does not know is reported with an
*unknown* cost, never as free.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = ["BUILTIN_MODELS", "ModelCatalog", "ModelInfo"]

Speed = Literal["fast", "medium", "slow"]
_SPEED_RANK = {"fast": 0, "medium": 1, "slow": 2}


@dataclass(frozen=True)
class ModelInfo:
    name: str
    provider: str  # "openai" | "anthropic" (the API it speaks)
    context_window: int = 128_000
    #: USD per million tokens; None = unknown (costs are then reported as unknown)
    input_per_mtok: float | None = None
    output_per_mtok: float | None = None
    capabilities: frozenset[str] = field(default_factory=frozenset)
    speed: Speed = "medium"
    #: rough capability rank for `most_capable` (higher is more capable)
    tier: int = 1
    #: a scripted mock: free, and labelled so wherever it appears
    scripted: bool = False

    @property
    def priced(self) -> bool:
        return self.input_per_mtok is not None and self.output_per_mtok is not None

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        """USD for one call, or None when the price is unknown."""
        if self.input_per_mtok is None or self.output_per_mtok is None:
            return None
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


def _m(name: str, provider: str, window: int, inp: float, out: float, caps: str, speed: Speed,
       tier: int) -> ModelInfo:  # fmt: skip
    return ModelInfo(name, provider, window, inp, out, frozenset(caps.split()), speed, tier)


#: Public list prices (USD / 1M tokens) as of late 2026; override them in settings.
BUILTIN_MODELS: tuple[ModelInfo, ...] = (
    _m("gpt-4o", "openai", 128_000, 2.50, 10.00, "tools vision json", "medium", 3),
    _m("gpt-4o-mini", "openai", 128_000, 0.15, 0.60, "tools vision json", "fast", 2),
    _m("gpt-4.1", "openai", 1_047_576, 2.00, 8.00, "tools vision json", "medium", 3),
    _m("gpt-4.1-mini", "openai", 1_047_576, 0.40, 1.60, "tools vision json", "fast", 2),
    _m("gpt-4.1-nano", "openai", 1_047_576, 0.10, 0.40, "tools json", "fast", 1),
    _m("o3-mini", "openai", 200_000, 1.10, 4.40, "tools json reasoning", "slow", 3),
    _m("claude-sonnet-4-5", "anthropic", 200_000, 3.00, 15.00, "tools vision", "medium", 4),
    _m("claude-haiku-4-5", "anthropic", 200_000, 1.00, 5.00, "tools vision", "fast", 2),
    _m("claude-opus-4-1", "anthropic", 200_000, 15.00, 75.00, "tools vision reasoning", "slow", 5),
    ModelInfo(
        "mock-scripted",
        "openai",
        128_000,
        0.0,
        0.0,
        frozenset({"tools", "json"}),
        "fast",
        1,
        scripted=True,
    ),
)


class ModelCatalog:
    def __init__(self, models: Iterable[ModelInfo] = BUILTIN_MODELS) -> None:
        self._models: dict[str, ModelInfo] = {m.name: m for m in models}

    def with_overrides(self, entries: Mapping[str, Mapping[str, Any]]) -> ModelCatalog:
        """A catalog with settings entries applied: ``{name: {provider, input_per_mtok, ...}}``
        (a known model keeps the fields an entry does not name)."""
        merged = dict(self._models)
        for name, raw in entries.items():
            data = dict(raw)
            if "capabilities" in data:
                data["capabilities"] = frozenset(data["capabilities"])
            base = merged.get(name)
            if base is None:
                merged[name] = ModelInfo(name=name, provider=str(data.pop("provider", "openai")),
                                         **data)  # fmt: skip
            else:
                merged[name] = replace(base, **data)
        return ModelCatalog(merged.values())

    def get(self, name: str) -> ModelInfo | None:
        """By exact name, else by the longest known name that prefixes it (dated snapshots:
        ``gpt-4o-mini-2024-07-18`` is ``gpt-4o-mini``)."""
        found = self._models.get(name)
        if found is not None:
            return found
        prefixes = [m for m in self._models if name.startswith(m + "-")]
        return self._models[max(prefixes, key=len)] if prefixes else None

    def __iter__(self) -> Any:
        return iter(self._models.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def rank(self, models: Iterable[ModelInfo], preference: str) -> list[ModelInfo]:
        """``cheapest`` (known prices first, by input+output price), ``fastest`` (speed class,
        then price) or ``most_capable`` (tier, then the larger window)."""
        items = list(models)
        if preference == "cheapest":
            return sorted(items, key=lambda m: (not m.priced, _price(m), -m.tier, m.name))
        if preference == "fastest":
            return sorted(items, key=lambda m: (_SPEED_RANK[m.speed], _price(m), m.name))
        if preference == "most_capable":
            return sorted(items, key=lambda m: (-m.tier, -m.context_window, m.name))
        raise ValueError(f"unknown preference {preference!r}")


def _price(m: ModelInfo) -> float:
    if m.input_per_mtok is None or m.output_per_mtok is None:
        return float("inf")
    return m.input_per_mtok + m.output_per_mtok
