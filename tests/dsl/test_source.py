"""YAML source positions, and "never a traceback" for any input."""

from __future__ import annotations

import contextlib

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workspace.dsl import DSLError, compile_document, parse_document, validate
from workspace.dsl.source import parse_source

from .fakes import make_registry
from .strategies import json_values

REG = make_registry()
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_positions_for_keys_and_values() -> None:
    doc = parse_source("name: x\nsteps:\n  - id: a\n    rules:\n      - {route: r}\n")
    assert doc.ok
    pos = doc.positions
    assert pos.values["steps[0].rules[0].route"] == (5, 17)
    assert pos.keys["steps[0].rules[0].route"] == (5, 10)
    assert pos.locate("steps[0].rules[0].missing") == (5, 9)
    assert pos.locate("steps[0].nothing.deeper", key=True) == (3, 5)


def test_odd_keys_are_quoted_in_paths() -> None:
    doc = parse_source('headers:\n  Content-Type: a\n  "x y": b\n')
    assert set(doc.positions.values) >= {"headers.Content-Type", 'headers["x y"]'}


def test_scalars_and_merge_keys() -> None:
    doc = parse_source(
        "base: &b {a: 1, b: 2}\nc:\n  <<: *b\n  b: 3\nwhen: 2024-01-01\n1: one\ntrue: yes\n"
    )
    assert doc.ok
    assert doc.data == {
        "base": {"a": 1, "b": 2},
        "c": {"b": 3, "a": 1},
        "when": "2024-01-01",
        "1": "one",
        "true": True,
    }


def test_hostile_yaml_is_reported_not_raised() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)
    )
    assert parse_source(laughs).problems[0].code == "yaml_syntax"
    assert parse_source("a: &a [*a]\n").problems[0].message == "recursive alias"
    assert parse_source("[" * 5000).problems[0].code == "yaml_syntax"
    assert parse_source("a: " + "[" * 150 + "]" * 150).problems[0].code == "yaml_syntax"
    assert parse_source(b"\xff\xfe").problems[0].code == "yaml_syntax"
    assert parse_source("a: !custom x\n").problems[0].code == "yaml_syntax"
    assert parse_source("? [a, b]\n: c\n").problems[0].code == "yaml_syntax"
    assert parse_source("a: 1\n---\nb: 2\n").problems[0].code == "yaml_syntax"


def test_parse_document_raises_dsl_error() -> None:
    try:
        parse_document("a: [", filename="f.yaml")
    except DSLError as exc:
        assert str(exc).startswith("f.yaml:1:")
    else:  # pragma: no cover
        raise AssertionError("no error")


@FUZZ
@given(st.text(max_size=300))
def test_any_text_gives_a_report(text: str) -> None:
    report = validate(text, REG)
    assert report.valid in (True, False)
    report.to_json()
    with contextlib.suppress(DSLError):
        compile_document(text, REG, draft=True)


_keys = st.sampled_from(
    [
        "name",
        "slug",
        "trigger",
        "triggers",
        "steps",
        "edges",
        "layout",
        "flow",
        "model",
        "body",
        "tools",
        "memory",
        "id",
        "type",
        "on_error",
        "rules",
        "route",
        "default",
        "from",
        "to",
        "kind",
        "join",
        "retry",
        "based_on",
        "patches",
        "action",
        "step_id",
        "config",
        "after",
    ]
)
_types = st.sampled_from(
    [
        "code",
        "switch",
        "loop",
        "agent",
        "human",
        "trigger_chat",
        "calculator",
        "generic",
        "nope",
        "chat",
        "webhook",
    ]
)


def _containers(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=5)


_values = st.recursive(json_values | _types | _keys, _containers, max_leaves=25)


@FUZZ
@given(st.dictionaries(_keys, _values, max_size=8))
def test_random_structures_give_a_report(doc: dict) -> None:  # type: ignore[type-arg]
    text = yaml.safe_dump(doc, allow_unicode=True)
    base = "name: b\nsteps: [{id: s, type: agent, prompt: p, tools: [calculator]}]\n"
    report = validate(text, REG, draft=True, known_workflows=set(), get_base=lambda slug: base)
    report.to_json()
    report.render()
