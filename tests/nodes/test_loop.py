"""The loop node: order, real concurrency, max_iterations, on_error, cancellation."""

from __future__ import annotations

import threading
import time
from typing import Any

import pydantic
import pytest

from nodes.loop import Loop
from tests.nodes.fakes import FakeContext, run_node
from workspace.errors import NodeError
from workspace.sdk import LoopInfo
from workspace.sdk.signals import RunCancelled


def loop(body: Any, over: Any, ctx_kw: dict[str, Any] | None = None, **config: Any) -> Any:
    ctx = FakeContext(loop_body=body, outputs={"src": {"items": over}}, **(ctx_kw or {}))
    return run_node(Loop, {"over": "{{ src.items }}", **config}, ctx).output


def test_sequential_runs_in_order_and_collects_results() -> None:
    seen: list[LoopInfo] = []

    def body(info: LoopInfo) -> Any:
        seen.append(info)
        return {"double": info.item * 2}

    out = loop(body, [1, 2, 3])
    assert out == {
        "results": [{"double": 2}, {"double": 4}, {"double": 6}],
        "errors": [],
        "count": 3,
    }
    assert [(i.item, i.index, i.total) for i in seen] == [(1, 0, 3), (2, 1, 3), (3, 2, 3)]


def test_parallel_preserves_order_and_really_overlaps() -> None:
    active = 0
    peak = 0
    lock = threading.Lock()

    def body(info: LoopInfo) -> Any:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05 * (5 - info.index))  # early items finish last
        with lock:
            active -= 1
        return info.item

    started = time.monotonic()
    out = loop(body, list("abcde"), mode="parallel", max_concurrency=5)
    elapsed = time.monotonic() - started
    assert out["results"] == list("abcde")
    assert peak > 1
    assert elapsed < 0.05 * (5 + 4 + 3 + 2 + 1)  # faster than sequential


def test_parallel_respects_max_concurrency() -> None:
    active = 0
    peak = 0
    lock = threading.Lock()

    def body(info: LoopInfo) -> Any:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with lock:
            active -= 1
        return info.index

    out = loop(body, list(range(12)), mode="parallel", max_concurrency=3)
    assert out["results"] == list(range(12))
    assert 1 < peak <= 3


def test_max_iterations_enforced_before_running_anything() -> None:
    calls: list[int] = []
    with pytest.raises(NodeError) as err:
        loop(lambda i: calls.append(i.index), list(range(11)), max_iterations=10)
    assert err.value.code == "max_iterations_exceeded"
    assert calls == []
    assert loop(lambda i: i.index, list(range(10)), max_iterations=10)["count"] == 10


def test_default_max_iterations_is_1000() -> None:
    with pytest.raises(NodeError) as err:
        loop(lambda i: None, list(range(1001)))
    assert err.value.code == "max_iterations_exceeded"


def failing_body(info: LoopInfo) -> Any:
    if info.item == "bad":
        raise NodeError("boom", code="custom_failure", retryable=False)
    if info.item == "crash":
        raise ValueError("plain exception")
    return info.item.upper()


@pytest.mark.parametrize("mode", ["sequential", "parallel"])
def test_on_error_continue_records_errors(mode: str) -> None:
    out = loop(failing_body, ["a", "bad", "c", "crash"], mode=mode, on_error="continue")
    assert out["results"] == ["A", None, "C", None]
    assert out["count"] == 4
    assert [e["index"] for e in out["errors"]] == [1, 3]
    assert out["errors"][0]["error"]["code"] == "custom_failure"
    assert out["errors"][0]["error"]["message"] == "boom"
    assert out["errors"][1]["error"]["type"] == "ValueError"


@pytest.mark.parametrize("mode", ["sequential", "parallel"])
def test_on_error_stop_fails_the_loop(mode: str) -> None:
    with pytest.raises(NodeError) as err:
        loop(failing_body, ["a", "bad", "c"], mode=mode)
    assert err.value.code == "loop_item_failed"
    assert err.value.details["index"] == 1
    assert err.value.details["error"]["code"] == "custom_failure"
    assert err.value.retryable is False


def test_stop_in_sequential_mode_skips_later_items() -> None:
    seen: list[Any] = []

    def body(info: LoopInfo) -> Any:
        seen.append(info.item)
        return failing_body(info)

    with pytest.raises(NodeError):
        loop(body, ["a", "bad", "c"])
    assert seen == ["a", "bad"]


def test_not_a_list() -> None:
    with pytest.raises(NodeError) as err:
        run_node(Loop, {"over": "just text"}, FakeContext(loop_body=lambda i: i))
    assert err.value.code == "not_a_list"


def test_empty_list() -> None:
    assert loop(lambda i: 1, []) == {"results": [], "errors": [], "count": 0}


def test_cancellation_between_sequential_items() -> None:
    seen: list[int] = []
    with pytest.raises(RunCancelled):
        loop(lambda i: seen.append(i.index), list(range(10)), ctx_kw={"cancel_after": 3})
    assert seen == [0, 1, 2]


def test_cancellation_in_parallel_mode_propagates() -> None:
    def body(info: LoopInfo) -> Any:
        time.sleep(0.05)
        return info.index

    with pytest.raises(RunCancelled):
        loop(body, list(range(40)), mode="parallel", max_concurrency=2, ctx_kw={"cancel_after": 4})


def test_control_signals_from_the_body_are_not_item_errors() -> None:
    def body(info: LoopInfo) -> Any:
        raise RunCancelled("stop")

    with pytest.raises(RunCancelled):
        loop(body, [1, 2], on_error="continue")


def test_ports_and_config() -> None:
    assert [p.name for p in Loop.outputs] == ["body", "done"]
    assert "return" in [p.name for p in Loop.inputs]
    for bad in ({"over": [], "max_concurrency": 0}, {"over": [], "on_error": "retry"}, {}):
        with pytest.raises(pydantic.ValidationError):
            Loop.Config.model_validate(bad)
