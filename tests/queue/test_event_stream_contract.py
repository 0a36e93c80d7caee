"""The EventStream contract, on MemoryEventStream and RedisEventStream."""

from __future__ import annotations

import threading
import time

import pytest

from tests.queue.conftest import StreamFactory
from workspace.domain.events import Event, EventType
from workspace.errors import ValidationError
from workspace.queue.ports import EventStream


def ev(seq: int, run_id: str = "r1", **data: object) -> Event:
    return Event(
        seq=seq, run_id=run_id, workflow="wf", version=1, type=EventType.TOKEN, data=dict(data)
    )


def seqs(events: list[Event]) -> list[int]:
    return [e.seq for e in events]


def publish_later(stream: EventStream, events: list[Event], delay_s: float) -> threading.Thread:
    def run() -> None:
        time.sleep(delay_s)
        stream.publish(events)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_read_returns_events_after_seq_in_order(stream: EventStream) -> None:
    stream.publish([ev(s) for s in range(1, 6)])
    assert seqs(stream.read("r1")) == [1, 2, 3, 4, 5]
    assert seqs(stream.read("r1", after=2)) == [3, 4, 5]
    assert seqs(stream.read("r1", after=2, limit=2)) == [3, 4]
    assert stream.read("r1", after=5) == []


def test_events_round_trip(stream: EventStream) -> None:
    sent = ev(1, text="héllo", n=[1, 2])
    stream.publish([sent])
    assert stream.read("r1") == [sent]


def test_runs_are_separate_even_in_one_batch(stream: EventStream) -> None:
    stream.publish([ev(1, "a"), ev(1, "b"), ev(2, "a")])
    assert seqs(stream.read("a")) == [1, 2]
    assert [e.run_id for e in stream.read("b")] == ["b"]


def test_missing_stream_reads_empty_without_error(stream: EventStream) -> None:
    assert stream.read("nobody") == []
    started = time.monotonic()
    assert stream.read("nobody", block_ms=150) == []
    assert time.monotonic() - started >= 0.14


def test_blocking_read_is_woken_by_a_publish(stream: EventStream) -> None:
    stream.publish([ev(1)])
    writer = publish_later(stream, [ev(2)], 0.2)
    started = time.monotonic()
    got = stream.read("r1", after=1, block_ms=10_000)
    writer.join()
    assert seqs(got) == [2]
    assert time.monotonic() - started < 5


def test_blocking_read_on_a_missing_stream_is_woken(stream: EventStream) -> None:
    writer = publish_later(stream, [ev(1, "late")], 0.2)
    assert seqs(stream.read("late", block_ms=10_000)) == [1]
    writer.join()


def test_blocking_read_ignores_old_events_and_keeps_waiting(stream: EventStream) -> None:
    stream.publish([ev(1), ev(2)])

    def run() -> None:
        time.sleep(0.1)
        stream.publish([ev(1)])  # a repeat of an old seq: not "new"
        time.sleep(0.2)
        stream.publish([ev(3)])

    writer = threading.Thread(target=run, daemon=True)
    writer.start()
    assert seqs(stream.read("r1", after=2, block_ms=10_000)) == [3]
    writer.join()


def test_out_of_order_publishers_are_sorted_and_not_dropped(stream: EventStream) -> None:
    stream.publish([ev(3)])
    stream.publish([ev(1), ev(2)])
    assert seqs(stream.read("r1")) == [1, 2, 3]
    writer = publish_later(stream, [ev(5), ev(4)], 0.2)
    assert seqs(stream.read("r1", after=3, block_ms=10_000)) == [4, 5]
    writer.join()


def test_a_seq_published_twice_is_returned_once(stream: EventStream) -> None:
    stream.publish([ev(1, n=1)])
    stream.publish([ev(1, n=2), ev(2)])
    got = stream.read("r1")
    assert seqs(got) == [1, 2]
    assert got[0].data == {"n": 1}


def test_reads_reach_deep_into_a_long_stream(stream: EventStream) -> None:
    stream.publish([ev(s) for s in range(1, 1201)])
    assert seqs(stream.read("r1", after=1150)) == list(range(1151, 1201))
    assert seqs(stream.read("r1", after=0, limit=500)) == list(range(1, 501))
    assert len(stream.read("r1", after=0, limit=5000)) == 1200


def test_the_stream_is_bounded(make_stream: StreamFactory) -> None:
    stream = make_stream(maxlen=20)
    for start in range(1, 1001, 100):
        stream.publish([ev(s) for s in range(start, start + 100)])
    held = seqs(stream.read("r1", limit=10_000))
    # Redis trims approximately (whole nodes of ~100 entries); memory trims exactly.
    assert 20 <= len(held) <= 220
    assert held == sorted(held)
    assert held[-20:] == list(range(981, 1001))


def test_a_run_expires_after_its_ttl(make_stream: StreamFactory) -> None:
    stream = make_stream(ttl_s=1)
    stream.publish([ev(1)])
    assert seqs(stream.read("r1")) == [1]
    time.sleep(1.2)
    assert stream.read("r1") == []


def test_events_without_seq_are_refused(stream: EventStream) -> None:
    with pytest.raises(ValidationError) as info:
        stream.publish([ev(0)])
    assert info.value.code == "event_without_seq"


def test_publishing_nothing_is_fine(stream: EventStream) -> None:
    stream.publish([])
    assert stream.read("r1") == []
