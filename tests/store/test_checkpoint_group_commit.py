"""The SQL checkpointer's group commit on SQLite (``workspace/store/write_buffer.py``): a task's
writes are stored at once when nobody else in the process writes, and otherwise ride on the
thread's next checkpoint, a flush, or the background thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.contracts.test_checkpointer_contract import cfg, put
from tests.store.dbs import fresh_sqlite_url
from workspace.store import SqlCheckpointSaver, open_store


def test_held_writes_ride_on_the_next_checkpoint_of_their_thread(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """The SQL saver's group commit on SQLite: with no other writer in the process a task's
    writes are stored at once; while another thread holds the write lock they wait for the
    thread's next checkpoint (the hold is long here, so only ``put`` and ``flush_writes`` can
    store them) and another process sees none of them before."""
    url = fresh_sqlite_url(sqlite_template, tmp_path)
    writer, reader = open_store(url), open_store(url)
    saver = SqlCheckpointSaver(writer.db, write_hold_s=3600)
    lock = writer.db.write_lock
    assert isinstance(lock, type(threading.RLock()))

    def contended(action: Callable[[], object]) -> None:
        held, done = threading.Event(), threading.Event()

        def other_writer() -> None:
            with lock:
                held.set()
                done.wait(5)

        thread = threading.Thread(target=other_writer)
        thread.start()
        held.wait(5)
        try:
            action()
        finally:
            done.set()
            thread.join(5)

    def pending_writes() -> list[Any]:
        tup = reader.checkpointer().get_tuple(saved)
        assert tup is not None
        return sorted(tup.pending_writes)

    try:
        saved, cp = put(saver, cfg("held"), {"a": 1})
        saver.put_writes(saved, [("a", 0)], task_id="s")  # nobody else writing: stored now
        assert pending_writes() == [("s", "a", 0)]
        contended(lambda: saver.put_writes(saved, [("a", 2)], task_id="t"))
        assert pending_writes() == [("s", "a", 0)]  # held back
        put(saver, saved, {"a": 3}, previous=cp)  # one transaction with the writes
        assert pending_writes() == [("s", "a", 0), ("t", "a", 2)]
        contended(lambda: saver.put_writes(saved, [("a", 4)], task_id="u"))
        saver.flush_writes()  # what the engine does at every stable point of a run
        assert pending_writes() == [("s", "a", 0), ("t", "a", 2), ("u", "a", 4)]
        # with no checkpoint and no flush to come, the background thread stores them
        quick = SqlCheckpointSaver(writer.db, write_hold_s=0.05)
        contended(lambda: quick.put_writes(saved, [("a", 5)], task_id="v"))
        deadline = time.monotonic() + 5
        while ("v", "a", 5) not in pending_writes():
            assert time.monotonic() < deadline, "held writes were never stored"
            time.sleep(0.01)
    finally:
        writer.close()
        reader.close()
