"""The human node: request shape, every answer shape, form validation, routes."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from nodes.human import Human
from tests.nodes.fakes import FakeContext, run_node
from workspace.errors import NodeError
from workspace.sdk import NodeResult, RevisionRequest

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
    answer = {"action": "request_revision", "feedback": "shorter please", "answered_by": "ada"}
    result, ctx = ask(answer, options=ALL_OPTIONS, revision_target="writer")
    assert result.route == "revision"
    assert result.output["approved"] is False
    assert result.output["feedback"] == "shorter please"
    assert result.output["revision_target"] == "writer"
    assert result.output["revision_round"] == 1
    # the engine runs `writer` again with the feedback
    assert result.revision == RevisionRequest("writer", "shorter please", "ada")
    assert ctx.requests[0]["revision_round"] == 0 and ctx.requests[0]["max_revisions"] == 3


def test_request_revision_without_a_target_only_routes() -> None:
    result, _ = ask({"action": "revise"}, options=["approve", "request_revision"])
    assert result.route == "revision"
    assert result.revision is None


@pytest.mark.parametrize("feedback", [None, "", "   ", 42])
def test_a_revision_needs_feedback_text(feedback: Any) -> None:
    answers = [{"action": "request_revision", "feedback": feedback}, "approve"]
    ctx = FakeContext(node_id="review", answers=answers)
    result = run_node(Human, {"options": ALL_OPTIONS, "revision_target": "writer"}, ctx)
    assert result.route == "approved"
    assert "needs `feedback`" in ctx.requests[1]["error"]


def test_used_up_revision_rounds_are_no_longer_offered() -> None:
    config = {"options": ALL_OPTIONS, "revision_target": "writer", "max_revisions": 2}
    answers = [{"action": "request_revision", "feedback": "again"}, "approve"]
    ctx = FakeContext(node_id="review", answers=answers, revision={"round": 2})
    result = run_node(Human, config, ctx)
    assert result.route == "approved" and result.revision is None
    first, second = ctx.requests
    assert first["options"] == ["approve", "reject", "edit"]
    assert first["revision_round"] == 2 and first["max_revisions"] == 2
    assert "not offered" in second["error"]
    # a round below the limit still offers it
    ctx = FakeContext(node_id="review", answers=["approve"], revision={"round": 1})
    run_node(Human, config, ctx)
    assert "request_revision" in ctx.requests[0]["options"]


def test_used_up_revision_rounds_with_nothing_else_to_offer_fail_clearly() -> None:
    config = {"options": ["request_revision"], "revision_target": "w", "max_revisions": 1}
    ctx = FakeContext(node_id="review", answers=[], revision={"round": 1})
    with pytest.raises(NodeError) as err:
        run_node(Human, config, ctx)
    assert err.value.code == "revisions_exhausted"
    assert not ctx.requests


def test_approve_to_start_makes_a_start_gate() -> None:
    assert Human().start_gate({"approve_to_start": True}) == "approved"
    assert Human().start_gate({"approve_to_start": False}) is None
    assert Human().start_gate({}) is None
    assert Human.upstream_fields == ("revision_target",)


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
def test_bad_answers_reopen_the_question(answer: Any) -> None:
    good = {"action": "approve", "data": {"amount": 1}}
    ctx = FakeContext(node_id="review", answers=[answer, good])
    result = run_node(Human, {"fields": FIELDS}, ctx)
    assert result.route == "approved"
    first, second = ctx.requests
    assert "error" not in first
    assert second["error"]  # says what was wrong with the first answer
    assert {k: v for k, v in second.items() if k != "error"} == first


def test_bad_answer_with_no_better_one_keeps_asking() -> None:
    ctx = FakeContext(node_id="review", answers=["maybe"])
    with pytest.raises(AssertionError, match="no scripted answer left"):
        run_node(Human, {}, ctx)
    assert len(ctx.requests) == 2


def test_actions_must_be_offered() -> None:
    for action in ("edit", "request_revision", "timeout"):  # default options: approve, reject
        ctx = FakeContext(node_id="review", answers=[{"action": action}, "reject"])
        assert run_node(Human, {}, ctx).route == "rejected"
        assert "error" in ctx.requests[1]
    ctx = FakeContext(node_id="review", answers=["reject", "approve"])
    assert run_node(Human, {"options": ["approve"]}, ctx).route == "approved"


def test_rejection_skips_form_validation() -> None:
    result, _ = ask({"action": "reject"}, fields=FIELDS)
    assert result.route == "rejected"


def test_a_timeout_cannot_be_answered_by_a_person() -> None:
    # timeouts are applied by the runtime's timers, never claimed by whoever answers
    ctx = FakeContext(node_id="review", answers=[{"action": "timeout"}, "reject"])
    result = run_node(Human, {"on_timeout": "approve", "options": ["reject"]}, ctx)
    assert result.route == "rejected"
    assert "timeout" in ctx.requests[1]["error"]


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
        {"revision_target": "writer"},  # request_revision is not offered
        {"options": ALL_OPTIONS, "revision_target": "w", "max_revisions": -1},
        {"options": ALL_OPTIONS, "revision_target": "w", "approve_to_start": True},
    ]
    for bad in bad_configs:
        with pytest.raises(pydantic.ValidationError):
            Human.Config.model_validate(bad)
