"""The human node: request shape, every answer shape, form validation, routes."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from nodes.human import Human
from tests.nodes.fakes import FakeContext, run_node
from workspace.errors import NodeError
from workspace.sdk import NodeResult

FIELDS = [
    {"name": "amount", "type": "number", "required": True},
    {"name": "urgent", "type": "boolean"},
    {"name": "team", "type": "choice", "options": ["ops", "dev"]},
    {"name": "note", "type": "multiline"},
]
ALL_OPTIONS = ["approve", "reject", "edit", "request_revision"]


def ask(answer: Any, **config: Any) -> tuple[NodeResult, FakeContext]:
    ctx = FakeContext(node_id="review", outputs={"draft": {"title": "Q3"}}, answers=[answer])
    return run_node(Human, config, ctx), ctx


def test_request_shape() -> None:
    _, ctx = ask(
        "approve",
        message="Approve {{ draft.title }}?",
        fields=[{"name": "note", "type": "text"}],
        options=["approve", "reject", "request_revision"],
        revision_target="writer",
        on_timeout="approve",
    )
    (request,) = ctx.requests
    assert request["node_id"] == "review"
    assert request["message"] == "Approve Q3?"
    assert request["options"] == ["approve", "reject", "request_revision"]
    assert request["fields"][0]["name"] == "note"
    assert request["revision_target"] == "writer"
    assert request["on_timeout"] == "approve"
    assert request["approve_to_start"] is False


@pytest.mark.parametrize(
    "answer",
    [
        "approve",
        "approved",
        "APPROVE",
        True,
        {"action": "approve"},
        {"action": "approved", "answered_by": "ada"},
        {"approved": True},
    ],
)
def test_approve_shapes(answer: Any) -> None:
    result, _ = ask(answer)
    assert result.route == "approved"
    assert result.output["approved"] is True
    assert result.output["action"] == "approve"


@pytest.mark.parametrize(
    "answer",
    ["reject", "rejected", False, {"action": "reject", "feedback": "no"}, {"approved": False}],
)
def test_reject_shapes(answer: Any) -> None:
    result, _ = ask(answer)
    assert result.route == "rejected"
    assert result.output["approved"] is False
    assert result.output["action"] == "reject"


def test_reject_keeps_feedback_and_who() -> None:
    result, _ = ask({"action": "reject", "reason": "too risky", "user": "bob"})
    assert result.output["feedback"] == "too risky"
    assert result.output["answered_by"] == "bob"


def test_edit_is_approval_with_edited_data() -> None:
    answer = {"action": "edit", "data": {"amount": "12.5", "urgent": "yes", "team": "ops"}}
    result, _ = ask(answer, fields=FIELDS, options=ALL_OPTIONS, revision_target="w")
    assert result.route == "approved"
    assert result.output["approved"] is True
    assert result.output["action"] == "edit"
    assert result.output["data"] == {"amount": 12.5, "urgent": True, "team": "ops"}


def test_request_revision_routes_revision_with_feedback() -> None:
    answer = {"action": "request_revision", "feedback": "shorter please"}
    result, _ = ask(answer, options=ALL_OPTIONS, revision_target="writer")
    assert result.route == "revision"
    assert result.output["approved"] is False
    assert result.output["feedback"] == "shorter please"
    assert result.output["revision_target"] == "writer"


def test_bare_form_submission_counts_as_approval() -> None:
    result, _ = ask({"amount": 3, "team": "dev", "answered_by": "ada"}, fields=FIELDS)
    assert result.route == "approved"
    assert result.output["data"] == {"amount": 3, "team": "dev"}
    assert result.output["answered_by"] == "ada"


@pytest.mark.parametrize(
    "answer",
    [
        {"action": "approve", "data": {}},  # amount required
        {"action": "approve", "data": {"amount": ""}},
        {"action": "approve", "data": {"amount": "lots"}},
        {"action": "approve", "data": {"amount": 1, "urgent": "maybe"}},
        {"action": "approve", "data": {"amount": 1, "team": "sales"}},
        {"action": "approve", "data": {"amount": 1, "note": 42}},
        {"action": "approve", "data": "not an object"},
        {"action": "dance"},
        "maybe",
        42,
        ["approve"],
    ],
)
def test_bad_answers(answer: Any) -> None:
    with pytest.raises(NodeError) as err:
        ask(answer, fields=FIELDS)
    assert err.value.code == "bad_answer"
    assert err.value.retryable is False


def test_actions_must_be_offered() -> None:
    with pytest.raises(NodeError) as err:
        ask({"action": "edit", "data": {}})  # default options: approve, reject
    assert err.value.code == "bad_answer"
    with pytest.raises(NodeError):
        ask({"action": "request_revision"})
    with pytest.raises(NodeError):
        ask("reject", options=["approve"])


def test_rejection_skips_form_validation() -> None:
    result, _ = ask({"action": "reject"}, fields=FIELDS)
    assert result.route == "rejected"


@pytest.mark.parametrize(
    ("on_timeout", "route"),
    [("reject", "rejected"), ("approve", "approved"), ("route:escalate", "escalate")],
)
def test_timeout_answers(on_timeout: str, route: str) -> None:
    result, _ = ask({"action": "timeout"}, fields=FIELDS, on_timeout=on_timeout)
    assert result.route == route
    assert result.output["action"] == "timeout"


def test_routes_and_config() -> None:
    assert Human.static_routes == ("approved", "rejected", "revision")
    assert Human().route_values({}) == {"approved", "rejected", "revision"}
    assert Human().route_values({"on_timeout": "route:late"}) == {
        "approved",
        "rejected",
        "revision",
        "late",
    }
    bad_configs: list[dict[str, Any]] = [
        {"options": []},
        {"options": ["approve", "shrug"]},
        {"fields": [{"name": "c", "type": "choice"}]},
        {"fields": [{"name": "x", "type": "color"}]},
        {"on_timeout": "explode"},
    ]
    for bad in bad_configs:
        with pytest.raises(pydantic.ValidationError):
            Human.Config.model_validate(bad)
