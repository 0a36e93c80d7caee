"""The TaskQueue contract, on MemoryTaskQueue and DramatiqTaskQueue (with serve() in a thread)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from tests.queue.conftest import QueueFactory
from tests.queue.fakes import TaskRecorder
from workspace.errors import ConflictError
from workspace.queue.ports import Task


def test_a_sent_task_reaches_the_handler(make_queue: QueueFactory, recorder: TaskRecorder) -> None:
    queue = make_queue(recorder)
    message_id = queue.send(Task("start", "run-1"))
    got = recorder.wait_for("run-1")
    assert got.task == Task("start", "run-1", message_id=message_id)


def test_an_explicit_message_id_is_the_message_id(
    make_queue: QueueFactory, recorder: TaskRecorder
) -> None:
    queue = make_queue(recorder)
    mid = f"sched-{uuid.uuid4().hex}"
    assert queue.send(Task("wake", "run-1", message_id=mid)) == mid
    assert recorder.wait_for("run-1").task.message_id == mid


def test_a_message_id_is_delivered_once(make_queue: QueueFactory, recorder: TaskRecorder) -> None:
    queue = make_queue(recorder)
    mid = f"sched-{uuid.uuid4().hex}"
    assert queue.send(Task("start", "run-1", message_id=mid)) == mid
    assert queue.send(Task("start", "run-1", message_id=mid)) == mid
    queue.send(Task("start", "marker"))
    recorder.wait_for("run-1")
    recorder.wait_for("marker")
    time.sleep(0.5)
    assert recorder.count("run-1") == 1


def test_many_tasks_all_arrive(make_queue: QueueFactory, recorder: TaskRecorder) -> None:
    queue = make_queue(recorder)
    for i in range(50):
        queue.send(Task("start", f"run-{i}"))
    for i in range(50):
        recorder.wait_for(f"run-{i}")
    assert len(recorder.received) == 50


def test_a_delayed_task_runs_no_earlier_than_its_delay(
    make_queue: QueueFactory, recorder: TaskRecorder
) -> None:
    queue = make_queue(recorder)
    sent_at = time.monotonic()
    queue.send(Task("wake", "later"), delay_ms=400)
    queue.send(Task("start", "now"))
    now = recorder.wait_for("now")
    later = recorder.wait_for("later")
    # 2 ms of slack: Dramatiq's eta is whole milliseconds of the wall clock.
    assert later.at - sent_at >= 0.398
    assert now.at < later.at


def test_a_failing_handler_does_not_stop_the_queue(
    make_queue: QueueFactory, recorder: TaskRecorder
) -> None:
    recorder.fail_for.add("boom")
    queue = make_queue(recorder)
    queue.send(Task("start", "boom"))
    recorder.wait_for("boom")
    queue.send(Task("start", "after"))
    recorder.wait_for("after")


def test_send_after_close_is_refused(make_queue: QueueFactory, recorder: TaskRecorder) -> None:
    queue = make_queue(recorder)
    queue.close()
    with pytest.raises(ConflictError) as info:
        queue.send(Task("start", "run-1"))
    assert info.value.code == "queue_closed"


def test_backlog_counts_tasks_not_yet_received(
    make_queue: QueueFactory, recorder: TaskRecorder
) -> None:
    gate = threading.Event()

    def slow(task: Task) -> None:
        gate.wait(10)
        recorder(task)

    queue = make_queue(slow)
    assert queue.backlog() == 0
    for i in range(200):  # more than the consumers' threads and prefetch take
        queue.send(Task("start", f"run-{i}"))
    assert queue.backlog() > 0
    gate.set()
    for i in range(200):
        recorder.wait_for(f"run-{i}")
    assert queue.backlog() == 0
