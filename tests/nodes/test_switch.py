"""switch and assertion: rule order, defaults, missing paths, templated values, route values."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from nodes.switch import Assertion, Switch
from tests.nodes.fakes import FakeContext, run_node
from workspace.errors import NodeError

TRIGGER = {"payload": {"type": "Order", "amount": "120", "tags": ["vip"], "items": [{"id": 7}]}}
OUTPUTS = {"fetch": {"status_code": 404, "body": None}, "limits": {"max": 100}}


def ctx() -> FakeContext:
    return FakeContext(trigger=TRIGGER, outputs=OUTPUTS)


def switch(rules: list[dict[str, Any]], **config: Any) -> tuple[Any, dict[str, Any]]:
    result = run_node(Switch, {"rules": rules, **config}, ctx())
    return result.route, result.output


def test_first_matching_rule_wins() -> None:
    route, out = switch(
        [
            {"field": "trigger.payload.type", "value": "refund", "route": "r"},
            {"field": "trigger.payload.type", "operator": "equals", "value": "Order", "route": "o"},
            {"field": "trigger.payload.amount", "operator": "gt", "value": 1, "route": "big"},
        ]
    )
    assert route == "o"
    assert out == {"route": "o", "matched_rule": 1}


def test_default_when_nothing_matches() -> None:
    route, out = switch(
        [{"field": "trigger.payload.type", "value": "refund", "route": "r"}], default="other"
    )
    assert (route, out) == ("other", {"route": "other", "matched_rule": None})


def test_no_match_without_default_raises_no_route() -> None:
    with pytest.raises(NodeError) as err:
        switch([{"field": "trigger.payload.type", "value": "refund", "route": "r"}])
    assert err.value.code == "no_route"


def test_case_insensitive_node_option_and_rule_override() -> None:
    rule = {"field": "trigger.payload.type", "operator": "equals", "value": "order", "route": "o"}
    assert switch([rule], default="d")[0] == "d"
    assert switch([rule], default="d", case_insensitive=True)[0] == "o"
    strict = {**rule, "case_sensitive": True}
    assert switch([strict], default="d", case_insensitive=True)[0] == "d"
    loose = {**rule, "case_sensitive": False}
    assert switch([loose], default="d")[0] == "o"


def test_numeric_strings_compare_numerically() -> None:
    rule = {"field": "trigger.payload.amount", "operator": "gt", "value": "99", "route": "big"}
    assert switch([rule], default="small")[0] == "big"  # "120" > "99" numerically


@pytest.mark.parametrize(
    ("path", "operator", "route"),
    [
        ("fetch.status_code", "equals", "hit"),  # node id path
        ("node_outputs.fetch.status_code", "equals", "hit"),  # Pipelit-style alias
        ("outputs.fetch.status_code", "equals", "hit"),
        ("{{ fetch.status_code }}", "equals", "hit"),  # braces tolerated
    ],
)
def test_path_spellings(path: str, operator: str, route: str) -> None:
    rules = [{"field": path, "operator": operator, "value": 404, "route": route}]
    assert switch(rules, default="miss")[0] == route


def test_list_index_paths() -> None:
    rule = {"field": "trigger.payload.items[0].id", "operator": "equals", "value": 7, "route": "x"}
    assert switch([rule])[0] == "x"
    rule2 = {"field": "trigger.payload.tags[0]", "operator": "equals", "value": "vip", "route": "y"}
    assert switch([rule2])[0] == "y"


@pytest.mark.parametrize(
    ("operator", "matches"),
    [
        ("exists", False),
        ("not_exists", True),
        ("is_empty", True),
        ("is_not_empty", False),
        ("equals", False),
        ("not_equals", False),  # absent is not evidence of "different"
        ("not_in", False),
        ("not_contains", False),
        ("is_false", False),
        ("lt", False),
    ],
)
def test_missing_paths(operator: str, matches: bool) -> None:
    rule = {"field": "trigger.payload.nope.x", "operator": operator, "value": [1], "route": "m"}
    assert switch([rule], default="d")[0] == ("m" if matches else "d")


def test_present_null_value_counts_as_not_existing() -> None:
    rule = {"field": "fetch.body", "operator": "not_exists", "route": "none"}
    assert switch([rule], default="d")[0] == "none"


def test_value_is_rendered_but_field_is_not() -> None:
    rule = {
        "field": "trigger.payload.amount",
        "operator": "gt",
        "value": "{{ limits.max }}",
        "route": "over",
    }
    assert switch([rule], default="ok")[0] == "over"
    between = {
        "field": "trigger.payload.amount",
        "operator": "between",
        "value": "{{ [limits.max, 200] }}",
        "route": "band",
    }
    assert switch([between])[0] == "band"


def test_operator_aliases() -> None:
    rule = {"field": "fetch.status_code", "operator": ">=", "value": 400, "route": "err"}
    assert switch([rule])[0] == "err"


def test_bad_regex_fails_with_code() -> None:
    with pytest.raises(NodeError) as err:
        switch([{"field": "trigger.payload.type", "operator": "regex", "value": "(", "route": "x"}])
    assert err.value.code == "bad_regex"


def test_config_validation() -> None:
    with pytest.raises(pydantic.ValidationError):
        Switch.Config.model_validate({"rules": [{"field": "a", "operator": "nope", "route": "x"}]})
    with pytest.raises(pydantic.ValidationError):
        Switch.Config.model_validate({"rules": [{"field": "a", "value": 1}]})  # no route
    with pytest.raises(pydantic.ValidationError):
        Switch.Config.model_validate({"rules": [], "bogus": 1})


def test_route_values_and_raw_fields() -> None:
    config = {
        "rules": [{"field": "a", "route": "x"}, {"field": "b", "route": "y"}, "junk"],
        "default": "z",
    }
    assert Switch().route_values(config) == {"x", "y", "z"}
    assert Switch().route_values({}) == set()
    assert "rules" in Switch.raw_fields
    assert Switch.routes


# ------------------------------------------------------------------------------- assertion


def assertion(rules: list[dict[str, Any]], **config: Any) -> tuple[Any, dict[str, Any]]:
    result = run_node(Assertion, {"rules": rules, **config}, ctx())
    return result.route, result.output


GOOD = {"field": "fetch.status_code", "operator": "equals", "value": 404}
BAD = {"field": "trigger.payload.type", "operator": "equals", "value": "refund"}


def test_assertion_all_pass() -> None:
    route, out = assertion([GOOD])
    assert (route, out) == ("pass", {"passed": True, "failed": []})


def test_assertion_all_fail_lists_failures() -> None:
    route, out = assertion([GOOD, BAD])
    assert route == "fail"
    assert out["passed"] is False
    assert out["failed"] == [
        {
            "index": 1,
            "field": "trigger.payload.type",
            "operator": "equals",
            "value": "refund",
            "actual": "Order",
        }
    ]


def test_assertion_any_mode() -> None:
    assert assertion([GOOD, BAD], mode="any")[0] == "pass"
    assert assertion([BAD], mode="any")[0] == "fail"


def test_assertion_no_rules_passes() -> None:
    assert assertion([])[0] == "pass"


def test_assertion_raise_on_fail() -> None:
    with pytest.raises(NodeError) as err:
        assertion([GOOD, BAD], raise_on_fail=True)
    assert err.value.code == "assertion_failed"
    assert "trigger.payload.type" in err.value.message
    assert err.value.details["failed"][0]["index"] == 1
    assert err.value.retryable is False


def test_assertion_routes_and_rule_shape() -> None:
    assert Assertion.static_routes == ("pass", "fail")
    assert Assertion().route_values({}) == {"pass", "fail"}
    with pytest.raises(pydantic.ValidationError):
        Assertion.Config.model_validate({"rules": [{**GOOD, "route": "x"}]})
