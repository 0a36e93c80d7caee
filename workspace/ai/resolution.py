"""``resolve_model``: a :class:`~workspace.sdk.models.ModelSpec` → provider, credential, model.

Pure: the caller passes the credentials the workflow's owner may use (``Reach``) and the
catalog. Every failure is a ``ValidationError(code="no_model")`` that says what was asked and
what is available.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from workspace.ai.catalog import ModelCatalog, ModelInfo
from workspace.errors import ValidationError
from workspace.sdk.models import ModelSpec

__all__ = ["Reach", "ResolvedModel", "resolve_model"]

PROVIDERS = ("openai", "anthropic")


@dataclass(frozen=True)
class Reach:
    """A credential a workflow may use, as resolution sees it (no secret)."""

    name: str
    provider: str
    #: models this credential serves (from its params or the provider's listing); None: the
    #: catalog's models of its provider
    models: tuple[str, ...] | None = None
    default_model: str | None = None
    demo: bool = False


@dataclass(frozen=True)
class ResolvedModel:
    provider: str
    credential: str
    model_name: str
    params: dict[str, Any] = field(default_factory=dict)
    info: ModelInfo | None = None
    strategy: str = "credential"

    def describe(self) -> dict[str, Any]:
        """What events and step records may show (no secret)."""
        return {
            "provider": self.provider,
            "credential": self.credential,
            "model": self.model_name,
            "strategy": self.strategy,
            **({"scripted": True} if self.info is not None and self.info.scripted else {}),
        }


def _no_model(message: str, reach: Sequence[Reach]) -> ValidationError:
    usable = [c for c in reach if c.provider in PROVIDERS]
    names = ", ".join(f"{c.name} ({c.provider})" for c in usable) or "none"
    return ValidationError(f"{message}; LLM credentials available: {names}", code="no_model")


def _served(cred: Reach, catalog: ModelCatalog) -> list[str]:
    if cred.models is not None:
        return list(cred.models)
    return [m.name for m in catalog if m.provider == cred.provider and not m.scripted]


def _ordered(reach: Sequence[Reach]) -> list[Reach]:
    """Real credentials before scripted demo ones (the demo is a fallback, never a surprise)."""
    return sorted((c for c in reach if c.provider in PROVIDERS), key=lambda c: c.demo)


def resolve_model(
    spec: ModelSpec,
    *,
    reach: Sequence[Reach],
    catalog: ModelCatalog,
    default: ModelSpec | None = None,
) -> ResolvedModel:
    strategy = spec.strategy
    if strategy == "inherit":
        if default is None or default.inherit:
            raise _no_model(
                "the step inherits the workflow's model, but `model:` is not set", reach
            )
        inherited = resolve_model(default, reach=reach, catalog=catalog)
        return ResolvedModel(
            inherited.provider,
            inherited.credential,
            inherited.model_name,
            {**inherited.params, **spec.params()},
            inherited.info,
            "inherit",
        )
    creds = _ordered(reach)
    params = spec.params()

    if strategy == "credential":
        cred = next((c for c in creds if c.name == spec.credential), None)
        if cred is None:
            raise _no_model(f"no usable LLM credential named {spec.credential!r}", reach)
        name = spec.model_name or cred.default_model
        if not name:
            raise _no_model(
                f"credential {cred.name!r} has no default `model`: set `model_name`", reach
            )
        return ResolvedModel(cred.provider, cred.name, name, params, catalog.get(name), strategy)

    if strategy == "discover":
        offered: dict[str, tuple[Reach, ModelInfo]] = {}
        for cred in creds:
            for name in _served(cred, catalog):
                known = catalog.get(name) or ModelInfo(name, cred.provider)
                offered.setdefault(name, (cred, known))
        if not offered:
            raise _no_model("no model to discover", reach)
        best = catalog.rank([known for _, known in offered.values()], spec.preference)
        # real credentials first: a scripted model only when nothing else is reachable
        real = [m for m in best if not offered[m.name][0].demo] or best
        pick = real[0]
        cred = offered[pick.name][0]
        return ResolvedModel(cred.provider, cred.name, pick.name, params, pick, strategy)

    wanted = spec.capability or spec.model_name or ""
    info = catalog.get(wanted)
    if info is not None:  # a model name: any credential of its provider that serves it
        for cred in creds:
            served = cred.models
            if cred.provider == info.provider and (served is None or wanted in served):
                return ResolvedModel(cred.provider, cred.name, wanted, params, info, strategy)
        raise _no_model(f"no credential reaches model {wanted!r} ({info.provider})", reach)
    candidates = [
        m
        for m in catalog
        if wanted in m.capabilities
        and any(c.provider == m.provider and m.name in _served(c, catalog) for c in creds)
    ]
    if not candidates:
        for cred in creds:  # an unknown model name a credential lists (e.g. an Ollama model)
            if cred.models is not None and wanted in cred.models:
                return ResolvedModel(cred.provider, cred.name, wanted, params, None, strategy)
        raise _no_model(f"no model or capability {wanted!r} is reachable", reach)
    pick = catalog.rank(candidates, spec.preference)[0]
    cred = next(
        c for c in creds if c.provider == pick.provider and pick.name in _served(c, catalog)
    )
    return ResolvedModel(cred.provider, cred.name, pick.name, params, pick, strategy)
