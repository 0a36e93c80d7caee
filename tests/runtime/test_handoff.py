"""Handoff (as the event publisher): events reach the live stream in order, batched, off the
caller's thread; a failing or stalled stream loses nothing but live copies (the database has
them). As the task sender: a webhook's task reaches the queue after the caller returned."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import pytest

from workspace.domain.events import Event, EventType
from workspace.queue.memory import MemoryEventStream
from workspace.runtime.handoff import Handoff


def publisher(stream: MemoryEventStream, **kw: int) -> Handoff[Event]:
    return Handoff(
        stream.publish, name="plait-event-publisher", what="events (in the database)", **kw
    )


def event(run_id: str, seq: int) -> Event:
    return Event(
        run_id=run_id, workflow="wf", version=1, type=EventType.NODE_SUCCEEDED, seq=seq, data={}
    )


class RecordingStream(MemoryEventStream):
    """The in-memory stream, remembering each publish call (batch) and able to stall or fail."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[Event]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail = False

    def publish(self, events: Sequence[Event]) -> None:
        self.entered.set()
        self.gate.wait()
        self.batches.append(list(events))
        if self.fail:
            raise ConnectionError("redis is down")
        super().publish(events)


def test_events_arrive_in_order_and_are_batched() -> None:
    stream = RecordingStream()
    pub = publisher(stream)
    stream.gate.clear()  # hold the first batch so the rest accumulates
    for seq in range(1, 201):
        pub.put(event("r1", seq))
    stream.gate.set()
    assert pub.flush(5)
    assert [e.seq for e in stream.read("r1", limit=1000)] == list(range(1, 201))
    assert len(stream.batches) < 200  # accumulated events went out together
    assert [e.seq for b in stream.batches for e in b] == list(range(1, 201))
    pub.close()


def test_order_per_run_with_many_threads() -> None:
    stream = RecordingStream()
    pub = publisher(stream)
    lock = threading.Lock()  # the database write lock the event log holds while delivering
    counters = {f"r{i}": 0 for i in range(4)}

    def emit(run_id: str) -> None:
        for _ in range(100):
            with lock:
                counters[run_id] += 1
                pub.put(event(run_id, counters[run_id]))

    threads = [threading.Thread(target=emit, args=(r,)) for r in counters for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pub.flush(5)
    sent = [e for b in stream.batches for e in b]
    for run_id in counters:
        assert [e.seq for e in sent if e.run_id == run_id] == list(range(1, 201))
    pub.close()


def test_a_failing_stream_is_logged_and_publishing_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = RecordingStream()
    stream.fail = True
    pub = publisher(stream)
    pub.put(event("r1", 1))
    assert pub.flush(5)
    assert "could not send 1 events" in caplog.text
    stream.fail = False
    pub.put(event("r1", 2))
    assert pub.flush(5)
    assert [e.seq for e in stream.read("r1")] == [2]
    pub.close()


def test_a_stalled_stream_drops_the_oldest_live_copies(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    stream = RecordingStream()
    pub = publisher(stream, max_pending=10)
    stream.gate.clear()
    pub.put(event("r1", 1))  # taken by the thread, stuck in publish
    assert stream.entered.wait(5)  # the thread holds it
    for seq in range(2, 30):
        pub.put(event("r1", seq))
    assert pub.dropped == 18
    assert "not keeping up: 1 events (in the database) dropped" in caplog.text
    stream.gate.set()
    assert pub.flush(5)
    assert [e.seq for e in stream.read("r1", limit=100)] == [1, *range(20, 30)]
    pub.close()


def test_close_sends_what_is_queued_and_ignores_later_events() -> None:
    stream = RecordingStream()
    pub = publisher(stream)
    pub.put(event("r1", 1))
    pub.close()
    pub.put(event("r1", 2))
    assert [e.seq for e in stream.read("r1")] == [1]


def test_as_task_sender_the_caller_returns_before_the_slow_send() -> None:
    sent: list[str] = []
    gate = threading.Event()

    def send(batch: Sequence[str]) -> None:
        gate.wait(5)
        sent.extend(batch)

    handoff: Handoff[str] = Handoff(send, name="plait-task-sender", what="tasks")
    for task in ("a", "b", "c"):
        assert handoff.put(task)  # returns while the first send is still blocked
    assert sent == []
    gate.set()
    assert handoff.flush(5)
    assert sent == ["a", "b", "c"]
    handoff.close()
    assert not handoff.put("d")  # closed: the caller falls back (sends itself, or the sweeper)
