"""``replaced``: the hot path's copy of a domain model behaves like ``model_copy(update=)``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from workspace.domain.copies import replaced
from workspace.domain.events import Event, EventType
from workspace.domain.run import StepRecord, StepStatus


def test_a_replaced_event_equals_model_copy_and_leaves_the_original_alone() -> None:
    event = Event(run_id="r", workflow="w", version=1, type=EventType.NODE_STARTED, data={"a": 1})
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    copy = replaced(event, {"seq": 7, "ts": ts})
    assert copy == event.model_copy(update={"seq": 7, "ts": ts})
    assert (copy.seq, copy.ts, copy.data) == (7, ts, {"a": 1})
    assert event.seq == 0 and event.ts != ts
    assert copy.model_fields_set == event.model_fields_set | {"seq", "ts"}
    assert copy.model_dump() == {**event.model_dump(), "seq": 7, "ts": ts}
    with pytest.raises(ValidationError):  # still frozen
        copy.seq = 8  # type: ignore[misc]


def test_a_replaced_step_record_serialises_like_its_model_copy() -> None:
    step = StepRecord(run_id="r", node_id="n", status=StepStatus.RUNNING, input={"x": 1})
    done = replaced(step, {"status": StepStatus.SUCCEEDED, "output": {"y": 2}})
    expected = step.model_copy(update={"status": StepStatus.SUCCEEDED, "output": {"y": 2}})
    assert done.model_dump_json() == expected.model_dump_json()
    assert step.status == StepStatus.RUNNING and step.output is None


class _Private(BaseModel):
    model_config = ConfigDict(extra="allow")
    a: int = 0
    _note: str = PrivateAttr(default="kept")


def test_models_with_extra_or_private_state_take_pydantics_path() -> None:
    model = _Private(a=1, b=2)
    copy = replaced(model, {"a": 3})
    assert copy.a == 3 and copy.model_extra == {"b": 2} and copy._note == "kept"
