"""``BackgroundPublisher``: puts stored events on the live stream (Redis) from one thread.

The event log calls its subscribers while it still holds the database write lock (so they see
events in ``seq`` order). Publishing to Redis there would make every write of the process wait
for a network round trip. This publisher only appends the event to a queue under that lock; one
background thread sends what accumulated as one batch (one pipeline), in the order received, so
per-run order is kept. The database stays the source of truth: a batch Redis refuses is logged
and dropped, and when more than ``max_pending`` events wait (Redis stalled) the oldest are
dropped with a warning; followers fetch any gap from the database.
"""

from __future__ import annotations

import collections
import logging
import threading
import time

from workspace.domain.events import Event
from workspace.queue.ports import EventStream

log = logging.getLogger(__name__)


class BackgroundPublisher:
    def __init__(
        self, stream: EventStream, *, max_batch: int = 512, max_pending: int = 100_000
    ) -> None:
        self._stream = stream
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._pending: collections.deque[Event] = collections.deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._busy = False
        self.dropped = 0

    def publish(self, event: Event) -> None:
        """Queue one stored event (cheap: called under the database write lock)."""
        with self._cond:
            if self._closed:
                return
            if len(self._pending) >= self._max_pending:
                self._pending.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 10_000 == 0:
                    log.warning(
                        "event stream is not keeping up: %d events dropped from the live path "
                        "(they are in the database)",
                        self.dropped,
                    )
            self._pending.append(event)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="plait-event-publisher", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until everything queued so far was sent (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout_s: float = 5.0) -> None:
        """Send what is queued (bounded by ``timeout_s``), then stop the thread."""
        self.flush(timeout_s)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return  # closed and drained
                n = min(len(self._pending), self._max_batch)
                batch = [self._pending.popleft() for _ in range(n)]
                self._busy = True
            try:
                self._stream.publish(batch)
            except Exception as exc:  # Redis away: the events are in the database all the same
                log.warning("could not publish %d events to the live stream: %s", len(batch), exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
