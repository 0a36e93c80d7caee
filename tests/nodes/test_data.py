"""transform, merge and filter."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from nodes.data import Filter, Merge, Transform, combine
from tests.nodes.fakes import FakeContext, run_node
from workspace.errors import ExpressionError, NodeError

OUTPUTS = {
    "fetch": {"items": [1, 2, 3], "user": {"name": "Ada"}},
    "limits": {"min": 2},
}


def ctx(**kw: Any) -> FakeContext:
    return FakeContext(outputs=OUTPUTS, trigger={"q": "x"}, **kw)


# -------------------------------------------------------------------------------- transform


def test_transform_single_expression_keeps_type() -> None:
    assert run_node(Transform, {"template": "{{ fetch.items }}"}, ctx()).output == {
        "output": [1, 2, 3]
    }


def test_transform_mixed_text_is_a_string() -> None:
    out = run_node(Transform, {"template": "Hi {{ fetch.user.name }}!"}, ctx()).output
    assert out == {"output": "Hi Ada!"}


def test_transform_structured_template() -> None:
    tpl = {"n": "{{ fetch.items | length }}", "who": "{{ fetch.user.name }}", "k": [1]}
    out = run_node(Transform, {"template": tpl}, ctx()).output
    assert out == {"output": {"n": 3, "who": "Ada", "k": [1]}}


def test_transform_template_error_fails() -> None:
    with pytest.raises(ExpressionError):
        run_node(Transform, {"template": "{{ nope.x }}"}, ctx())


def test_transform_requires_template() -> None:
    with pytest.raises(pydantic.ValidationError):
        Transform.Config.model_validate({})


# ------------------------------------------------------------------------------------ merge

BRANCHES = {"a": {"x": 1, "nested": {"p": 1, "q": [1]}}, "b": {"y": 2, "nested": {"q": [2]}}}


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("dict", {"x": 1, "y": 2, "nested": {"q": [2]}}),
        ("deep", {"x": 1, "y": 2, "nested": {"p": 1, "q": [2]}}),
        ("list", [BRANCHES["a"], BRANCHES["b"]]),
        ("concat", [BRANCHES["a"], BRANCHES["b"]]),
        ("first", BRANCHES["a"]),
        ("last", BRANCHES["b"]),
    ],
)
def test_merge_strategies_on_input_keyed_by_source(strategy: str, expected: Any) -> None:
    out = run_node(Merge, {"strategy": strategy}, ctx(), input=BRANCHES).output
    assert out == {"output": expected}


def test_merge_default_is_dict() -> None:
    assert run_node(Merge, {}, ctx(), input=BRANCHES).output["output"]["y"] == 2


def test_merge_explicit_items_with_templates() -> None:
    config = {"strategy": "concat", "items": ["{{ fetch.items }}", [4], 5, None]}
    assert run_node(Merge, config, ctx()).output == {"output": [1, 2, 3, 4, 5]}


def test_first_and_last_skip_nulls() -> None:
    assert combine("first", [None, 1, 2]) == 1
    assert combine("last", [1, 2, None]) == 2
    assert combine("first", [None]) is None


def test_deep_merge_does_not_mutate_inputs() -> None:
    a = {"n": {"k": [1]}}
    combine("deep", [a, {"n": {"j": 2}}])
    assert a == {"n": {"k": [1]}}


def test_merge_dict_rejects_non_objects() -> None:
    with pytest.raises(NodeError) as err:
        run_node(Merge, {"strategy": "dict"}, ctx(), input={"a": {"x": 1}, "b": [1]})
    assert err.value.code == "bad_merge_input"


def test_merge_list_input_and_scalar_input() -> None:
    assert run_node(Merge, {"strategy": "list"}, ctx(), input=[1, 2]).output == {"output": [1, 2]}
    assert run_node(Merge, {"strategy": "list"}, ctx(), input="s").output == {"output": ["s"]}


# ----------------------------------------------------------------------------------- filter

ORDERS = [
    {"id": 1, "status": "open", "amount": "10"},
    {"id": 2, "status": "CLOSED", "amount": 50},
    {"id": 3, "status": "open", "amount": 99},
    {"id": 4},
]


def filt(rules: list[dict[str, Any]], **config: Any) -> dict[str, Any]:
    c = FakeContext(outputs={"orders": {"items": ORDERS}, "limits": {"min": 20}})
    return run_node(Filter, {"items": "{{ orders.items }}", "rules": rules, **config}, c).output


def test_filter_all_mode() -> None:
    out = filt(
        [
            {"field": "item.status", "operator": "equals", "value": "open"},
            {"field": "item.amount", "operator": "gte", "value": "{{ limits.min }}"},
        ]
    )
    assert out["output"] == [ORDERS[2]]
    assert out["rejected"] == [ORDERS[0], ORDERS[1], ORDERS[3]]
    assert out["count"] == 1


def test_filter_any_mode_and_case_insensitive() -> None:
    rules: list[dict[str, Any]] = [
        {"field": "item.status", "operator": "equals", "value": "closed"},
        {"field": "item.amount", "operator": "lt", "value": 20},
    ]
    assert [o["id"] for o in filt(rules, mode="any")["output"]] == [1]
    assert [o["id"] for o in filt(rules, mode="any", case_insensitive=True)["output"]] == [1, 2]


def test_filter_missing_field_and_index() -> None:
    out = filt([{"field": "item.status", "operator": "not_exists"}])
    assert out["output"] == [ORDERS[3]]
    out = filt([{"field": "index", "operator": "lt", "value": 2}])
    assert [o.get("id") for o in out["output"]] == [1, 2]


def test_filter_scalars_and_scope_paths() -> None:
    c = FakeContext(outputs={"cfg": {"min": 3}})
    config = {
        "items": [1, 5, 2, 8],
        "rules": [
            {"field": "item", "operator": "gt", "value": 2},
            {"field": "cfg.min", "operator": "equals", "value": 3},
        ],
    }
    assert run_node(Filter, config, c).output == {"output": [5, 8], "rejected": [1, 2], "count": 2}


def test_filter_no_rules_keeps_everything() -> None:
    assert filt([])["count"] == 4


def test_filter_bare_path_is_a_clear_error() -> None:
    with pytest.raises(NodeError) as err:
        filt([{"field": "status", "operator": "equals", "value": "open"}])
    assert err.value.code == "bad_path"
    assert "item." in err.value.message


def test_filter_items_must_be_a_list() -> None:
    with pytest.raises(NodeError) as err:
        run_node(Filter, {"items": {"a": 1}, "rules": []}, FakeContext())
    assert err.value.code == "not_a_list"
