"""Model specs, the catalog and model resolution (SPEC §5's four strategies)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError as PydanticValidationError

from workspace.ai import ModelCatalog, ModelInfo, Reach, resolve_model
from workspace.errors import ValidationError
from workspace.sdk.models import ModelSpec

CATALOG = ModelCatalog()
OPENAI = Reach("openai-main", "openai")
CLAUDE = Reach("claude", "anthropic", default_model="claude-haiku-4-5")
OLLAMA = Reach("ollama", "openai", models=("llama3.2", "qwen2.5"), default_model="llama3.2")
DEMO = Reach("demo", "openai", models=("mock-scripted",), default_model="mock-scripted", demo=True)
TOKEN = Reach("hook", "token")


def spec(**kw: object) -> ModelSpec:
    return ModelSpec.model_validate(kw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "say which model"),
        (
            {"inherit": True, "discover": True},
            "choose one model strategy, not inherit and discover",
        ),
        ({"capability": "x", "credential": "y"}, "not capability and credential"),
        ({"discover": True, "preference": "prettiest"}, "preference"),
        ({"model_name": "x", "temperature": 3}, "temperature"),
        ({"model_name": "x", "colour": "red"}, "colour"),
    ],
)
def test_specs_are_validated(raw: dict[str, object], message: str) -> None:
    with pytest.raises(PydanticValidationError) as err:
        ModelSpec.model_validate(raw)
    assert message in str(err.value)


def test_pipelit_spelling_model_is_model_name() -> None:
    assert spec(credential="c", model="gpt-4o").model_name == "gpt-4o"


def test_explicit_credential_and_its_default_model() -> None:
    got = resolve_model(
        spec(credential="claude", temperature=0.2), reach=[OPENAI, CLAUDE], catalog=CATALOG
    )
    assert (got.provider, got.credential, got.model_name) == (
        "anthropic",
        "claude",
        "claude-haiku-4-5",
    )
    assert got.params == {"temperature": 0.2, "max_retries": 0}
    assert got.info is not None and got.info.cost(1_000_000, 0) == 1.0
    with pytest.raises(ValidationError, match="has no default `model`"):
        resolve_model(spec(credential="openai-main"), reach=[OPENAI], catalog=CATALOG)
    with pytest.raises(ValidationError) as err:
        resolve_model(
            spec(credential="nope", model_name="x"), reach=[OPENAI, TOKEN], catalog=CATALOG
        )
    assert err.value.code == "no_model"
    assert "available: openai-main (openai)" in err.value.message  # the token is no LLM


def test_capability_as_a_model_name_or_a_tag() -> None:
    reach = [CLAUDE, OPENAI]
    by_name = resolve_model(spec(capability="gpt-4o-mini"), reach=reach, catalog=CATALOG)
    assert (by_name.credential, by_name.model_name) == ("openai-main", "gpt-4o-mini")
    dated = resolve_model(spec(capability="gpt-4o-mini-2024-07-18"), reach=reach, catalog=CATALOG)
    assert dated.info is not None and dated.info.name == "gpt-4o-mini"
    reasoning = resolve_model(spec(capability="reasoning"), reach=reach, catalog=CATALOG)
    assert reasoning.model_name == "o3-mini"  # the cheapest reachable model with the tag
    capable = resolve_model(
        spec(capability="reasoning", preference="most_capable"), reach=reach, catalog=CATALOG
    )
    assert capable.model_name == "claude-opus-4-1"
    local = resolve_model(spec(capability="qwen2.5"), reach=[OLLAMA], catalog=CATALOG)
    assert (local.credential, local.info) == ("ollama", None)  # unknown price: cost unknown
    with pytest.raises(ValidationError, match="no credential reaches model 'claude-haiku-4-5'"):
        resolve_model(spec(capability="claude-haiku-4-5"), reach=[OPENAI], catalog=CATALOG)
    with pytest.raises(ValidationError, match="no model or capability 'telepathy'"):
        resolve_model(spec(capability="telepathy"), reach=reach, catalog=CATALOG)


def test_discover_by_preference_prefers_real_credentials_to_the_demo() -> None:
    reach = [DEMO, OPENAI, CLAUDE]
    cheapest = resolve_model(spec(discover=True), reach=reach, catalog=CATALOG)
    assert cheapest.model_name == "gpt-4.1-nano"
    fastest = resolve_model(spec(discover=True, preference="fastest"), reach=reach, catalog=CATALOG)
    assert fastest.info is not None and fastest.info.speed == "fast" and not fastest.info.scripted
    best = resolve_model(
        spec(discover=True, preference="most_capable"), reach=reach, catalog=CATALOG
    )
    assert best.model_name == "claude-opus-4-1"
    demo_only = resolve_model(spec(discover=True), reach=[DEMO], catalog=CATALOG)
    assert demo_only.describe() == {
        "provider": "openai",
        "credential": "demo",
        "model": "mock-scripted",
        "strategy": "discover",
        "scripted": True,
    }
    with pytest.raises(ValidationError, match="no model to discover"):
        resolve_model(spec(discover=True), reach=[TOKEN], catalog=CATALOG)


def test_inherit_takes_the_workflow_default_and_adds_its_own_params() -> None:
    default = spec(credential="claude", temperature=0.7)
    got = resolve_model(
        spec(inherit=True, max_tokens=50), reach=[CLAUDE], catalog=CATALOG, default=default
    )
    assert (got.model_name, got.strategy) == ("claude-haiku-4-5", "inherit")
    assert got.params == {"temperature": 0.7, "max_tokens": 50, "max_retries": 0}
    with pytest.raises(ValidationError, match="`model:` is not set"):
        resolve_model(spec(inherit=True), reach=[CLAUDE], catalog=CATALOG)


def test_catalog_overrides_and_unknown_prices() -> None:
    catalog = CATALOG.with_overrides(
        {
            "gpt-4o": {"input_per_mtok": 1.0},
            "llama3.2": {"provider": "openai", "capabilities": ["tools"], "speed": "fast"},
        }
    )
    gpt = catalog.get("gpt-4o")
    assert gpt is not None and (gpt.input_per_mtok, gpt.output_per_mtok) == (1.0, 10.0)
    llama = catalog.get("llama3.2")
    assert llama is not None and llama.cost(10, 10) is None  # unknown, not free
    assert ModelInfo("x", "openai", input_per_mtok=0.0, output_per_mtok=0.0).cost(5, 5) == 0.0
    assert "gpt-4o-2024-11-20" in catalog and "nothing" not in catalog
