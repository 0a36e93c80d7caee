"""wait, subworkflow and reply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest

from nodes.flow import Reply, Subworkflow, Wait
from tests.nodes.fakes import FakeContext, run_node
from workspace.errors import NodeError

# ------------------------------------------------------------------------------------- wait


def wait(config: dict[str, Any], ctx: FakeContext | None = None) -> tuple[Any, FakeContext]:
    ctx = ctx or FakeContext(node_id="pause")
    return run_node(Wait, config, ctx).output, ctx


@pytest.mark.parametrize(
    ("config", "seconds"),
    [
        ({"duration": 5}, 5),
        ({"duration": 2, "unit": "minutes"}, 120),
        ({"delay": 2, "delay_unit": "minutes"}, 120),  # Pipelit spelling
        ({"delay": 3}, 3),
        ({"duration": 1, "delay_unit": "hours"}, 3600),
        ({"duration": 1.5, "unit": "days"}, 1.5 * 86400),
        ({"duration": 2, "unit": "min"}, 120),
        ({"duration": 0}, 0),
    ],
)
def test_wait_duration_spellings(config: dict[str, Any], seconds: float) -> None:
    before = datetime.now(UTC)
    out, ctx = wait(config)
    assert out["waited_s"] == pytest.approx(seconds)
    (when,) = ctx.waits
    assert when.tzinfo is not None
    assert (when - before).total_seconds() == pytest.approx(seconds, abs=2)
    assert out["until"] == when.isoformat()


def test_wait_until() -> None:
    target = datetime.now(UTC) + timedelta(hours=1)
    out, ctx = wait({"until": target.isoformat()})
    assert ctx.waits == [target]
    assert out["waited_s"] == pytest.approx(3600, abs=2)


def test_wait_until_naive_is_utc_and_z_suffix() -> None:
    _, ctx = wait({"until": "2030-01-01T00:00:00"})
    assert ctx.waits == [datetime(2030, 1, 1, tzinfo=UTC)]
    _, ctx = wait({"until": "2030-01-01T00:00:00Z"})
    assert ctx.waits == [datetime(2030, 1, 1, tzinfo=UTC)]


def test_wait_until_in_the_past_waits_zero() -> None:
    out, _ = wait({"until": "2000-01-01T00:00:00Z"})
    assert out["waited_s"] == 0.0


def test_wait_deadline_is_journaled_so_resume_keeps_it() -> None:
    ctx = FakeContext(node_id="pause", iteration="loop[2]")
    first, _ = wait({"duration": 60}, ctx)
    key = "run1:pause:loop[2]:until"
    assert key in ctx.journal_data
    # simulate a resume much later: the deadline must not move
    ctx.journal_data[key] = dict(ctx.journal_data[key])
    second, _ = wait({"duration": 60}, ctx)
    assert second == first
    assert ctx.waits[0] == ctx.waits[1]


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"duration": 5, "until": "2030-01-01T00:00:00Z"},
        {"duration": -1},
        {"duration": 5, "unit": "fortnights"},
        {"until": "tomorrow"},
        {"duration": 5, "bogus": 1},
    ],
)
def test_wait_bad_configs(config: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        Wait.Config.model_validate(config)


def test_wait_templated_duration() -> None:
    out, _ = wait({"delay": "{{ cfg.secs }}"}, FakeContext(outputs={"cfg": {"secs": 7}}))
    assert out["waited_s"] == 7


# ------------------------------------------------------------------------------ subworkflow


def test_subworkflow_dict_output_is_returned_as_is() -> None:
    ctx = FakeContext(workflows={"child": lambda p: {"answer": p["q"] * 2}})
    out = run_node(Subworkflow, {"workflow": "child", "payload": {"q": 21}}, ctx).output
    assert out == {"answer": 42}
    assert ctx.child_runs == [("child", {"q": 21})]


def test_subworkflow_slug_spelling_templated_payload_and_wrapping() -> None:
    ctx = FakeContext(workflows={"child": lambda p: [p]}, outputs={"a": {"v": 1}})
    out = run_node(Subworkflow, {"slug": "child", "payload": {"v": "{{ a.v }}"}}, ctx).output
    assert out == {"output": [{"v": 1}]}


def test_subworkflow_defaults_payload_to_input() -> None:
    ctx = FakeContext(workflows={"child": lambda p: p})
    out = run_node(Subworkflow, {"workflow": "child"}, ctx, input={"x": 1}).output
    assert out == {"x": 1}


def test_subworkflow_child_failure_propagates() -> None:
    def failing(payload: Any) -> Any:
        raise NodeError("child run failed", code="child_failed")

    with pytest.raises(NodeError) as err:
        run_node(Subworkflow, {"workflow": "child"}, FakeContext(workflows={"child": failing}))
    assert err.value.code == "child_failed"


def test_subworkflow_config_rules() -> None:
    with pytest.raises(pydantic.ValidationError):
        Subworkflow.Config.model_validate({})
    with pytest.raises(pydantic.ValidationError):
        Subworkflow.Config.model_validate({"workflow": "a", "slug": "b"})
    with pytest.raises(NodeError) as err:
        run_node(Subworkflow, {"workflow": "Not A Slug"}, FakeContext())
    assert err.value.code == "bad_slug"
    assert Subworkflow.side_effects and Subworkflow.aliases == ("workflow",)


# ------------------------------------------------------------------------------------ reply


def test_reply_renders_text_and_emits_event() -> None:
    ctx = FakeContext(outputs={"agent": {"answer": "42"}})
    config = {"text": "The answer is {{ agent.answer }}", "attachments": [{"name": "a.txt"}]}
    out = run_node(Reply, config, ctx).output
    expected = {"text": "The answer is 42", "attachments": [{"name": "a.txt"}], "final": True}
    assert out == expected
    assert ctx.events == [("reply", expected)]


def test_reply_intermediate_and_non_string_text() -> None:
    ctx = FakeContext(outputs={"data": {"n": 3}})
    out = run_node(Reply, {"text": "{{ data }}", "final": False}, ctx).output
    assert out == {"text": '{"n": 3}', "attachments": [], "final": False}
    assert not Reply.side_effects
    assert Reply.aliases == ("reply_chat",)
