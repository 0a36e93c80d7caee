"""Truth tables for every comparison operator (nodes/operators.py)."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from nodes.operators import OPERATORS, as_number
from nodes.rules import OperatorName
from workspace.errors import NodeError

CASES: list[tuple[str, Any, Any, bool, bool]] = [
    # op, left, right, case_insensitive, expected
    ("equals", "a", "a", False, True),
    ("equals", "A", "a", False, False),
    ("equals", "A", "a", True, True),
    ("equals", 5, "5", False, True),
    ("equals", "5.0", 5, False, True),
    ("equals", " 42 ", 42, False, True),
    ("equals", "5", "05", False, True),
    ("equals", True, "true", False, True),
    ("equals", False, "no", False, True),
    ("equals", True, 1, False, True),
    ("equals", True, "banana", False, False),
    ("equals", None, None, False, True),
    ("equals", [1, "A"], [1, "a"], True, True),
    ("equals", [1, 2], [1, 2, 3], False, False),
    ("equals", {"a": 1}, {"a": 1}, False, True),
    ("equals", "abc", ["abc"], False, False),
    ("not_equals", "a", "b", False, True),
    ("not_equals", "a", "A", True, False),
    ("not_equals", 3, "3", False, False),
    ("contains", "Hello world", "world", False, True),
    ("contains", "Hello world", "WORLD", False, False),
    ("contains", "Hello world", "WORLD", True, True),
    ("contains", ["a", "b"], "b", False, True),
    ("contains", ["a", "B"], "b", True, True),
    ("contains", [1, 2, 3], "2", False, True),
    ("contains", {"key": 1}, "key", False, True),
    ("contains", "v1.2", 1, False, True),
    ("contains", 12, 1, False, False),
    ("not_contains", "abc", "d", False, True),
    ("not_contains", ["x"], "x", False, False),
    ("starts_with", "Hello", "he", False, False),
    ("starts_with", "Hello", "he", True, True),
    ("starts_with", 12345, "12", False, True),
    ("starts_with", None, "x", False, False),
    ("ends_with", "report.PDF", ".pdf", True, True),
    ("ends_with", "report.PDF", ".pdf", False, False),
    ("matches", "order-123", r"^order-\d+$", False, True),
    ("matches", "ORDER-123", r"^order", False, False),
    ("matches", "ORDER-123", r"^order", True, True),
    ("matches", 404, r"^4\d\d$", False, True),
    ("matches", ["x"], "x", False, False),
    ("gt", "10", 9, False, True),
    ("gt", "10", "9", False, True),  # numeric, not lexicographic
    ("gt", "b", "a", False, True),
    ("gt", "B", "a", False, False),
    ("gt", "B", "a", True, True),
    ("gt", 1, "abc", False, False),
    ("gt", None, 1, False, False),
    ("gt", [2], 1, False, False),
    ("gte", 5, "5", False, True),
    ("gte", 4.99, 5, False, False),
    ("lt", "-1.5", 0, False, True),
    ("lt", "2024-01-01", "2024-06-01", False, True),
    ("lte", "5", 5, False, True),
    ("lte", 6, "5", False, False),
    ("between", 5, [1, 10], False, True),
    ("between", "10", ["1", "10"], False, True),
    ("between", 0, [1, 10], False, False),
    ("between", "m", ["a", "z"], False, True),
    ("in", "b", ["a", "b"], False, True),
    ("in", "B", ["a", "b"], False, False),
    ("in", "B", ["a", "b"], True, True),
    ("in", "2", [1, 2], False, True),
    ("in", "ell", "hello", False, True),
    ("in", "x", {"x": 1}, False, True),
    ("not_in", "c", ["a", "b"], False, True),
    ("not_in", 1, ["1"], False, False),
    ("is_empty", None, None, False, True),
    ("is_empty", "", None, False, True),
    ("is_empty", "   ", None, False, True),
    ("is_empty", [], None, False, True),
    ("is_empty", {}, None, False, True),
    ("is_empty", 0, None, False, False),
    ("is_empty", "x", None, False, False),
    ("is_not_empty", [0], None, False, True),
    ("is_not_empty", "", None, False, False),
    ("is_true", True, None, False, True),
    ("is_true", "yes", None, False, True),
    ("is_true", "TRUE", None, False, True),
    ("is_true", 1, None, False, True),
    ("is_true", "banana", None, False, False),
    ("is_true", None, None, False, False),
    ("is_true", 2, None, False, False),
    ("is_false", False, None, False, True),
    ("is_false", "off", None, False, True),
    ("is_false", 0, None, False, True),
    ("is_false", None, None, False, False),
    ("is_false", "", None, False, False),
    ("exists", 0, None, False, True),
    ("exists", "", None, False, True),
    ("exists", None, None, False, False),
    ("not_exists", None, None, False, True),
    ("not_exists", False, None, False, False),
    ("length_eq", "abc", 3, False, True),
    ("length_eq", [1, 2], "2", False, True),
    ("length_eq", {"a": 1}, 1, False, True),
    ("length_eq", 123, 3, False, False),
    ("length_gt", [1, 2, 3], 2, False, True),
    ("length_gt", "ab", 2, False, False),
    ("length_lt", "", 1, False, True),
    ("length_lt", [1], 1, False, False),
]


@pytest.mark.parametrize(("op", "left", "right", "ci", "expected"), CASES)
def test_truth_table(op: str, left: Any, right: Any, ci: bool, expected: bool) -> None:
    assert OPERATORS[op](left, right, ci) is expected


def test_every_declared_operator_is_implemented_and_tested() -> None:
    declared = set(get_args(OperatorName))
    assert declared == set(OPERATORS)
    assert len(declared) >= 23
    assert {c[0] for c in CASES} == declared


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3),
        (2.5, 2.5),
        ("7", 7),
        (" -1.5e3 ", -1500.0),
        (".5", 0.5),
        (True, None),
        ("abc", None),
        ("", None),
        ("1,000", None),
        (float("nan"), None),
        (None, None),
    ],
)
def test_as_number(value: Any, expected: Any) -> None:
    assert as_number(value) == expected


def test_bad_regex_raises_stable_code() -> None:
    with pytest.raises(NodeError) as err:
        OPERATORS["matches"]("x", "([unclosed", False)
    assert err.value.code == "bad_regex"


@pytest.mark.parametrize(
    ("op", "right"),
    [("between", 5), ("between", [1]), ("in", 5), ("length_eq", "x"), ("length_gt", 1.5)],
)
def test_bad_rule_values(op: str, right: Any) -> None:
    with pytest.raises(NodeError) as err:
        OPERATORS[op]("abc", right, False)
    assert err.value.code == "bad_rule_value"
