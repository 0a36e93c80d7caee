"""``Handoff``: one background thread sends what callers queue, in batches, in order.

Two things a request or a write must not wait for go through one:

* **stored events to the live stream (Redis).** The event log calls its subscribers while it
  still holds the database write lock (so they see events in ``seq`` order); a Redis round trip
  there would make every write of the process wait for the network.
* **a webhook's run to the workers' queue.** The run is committed before the ``202``; sending its
  task (a Redis round trip and a Lua script) after the answer takes that time out of the
  webhook's latency.

Callers only append to a queue; the thread sends what accumulated as one batch, in the order
received (so per-run order is kept). Neither loses anything when a batch fails or the process
dies first: the database stays the source of truth. Events a stalled Redis refuses are found in
the database by followers; a run whose task was never sent stays ``queued`` and the sweeper
sends it again. When more than ``max_pending`` items wait, the oldest are dropped with a warning.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Handoff(Generic[T]):
    def __init__(
        self,
        send: Callable[[Sequence[T]], None],
        *,
        name: str,
        what: str,
        max_batch: int = 512,
        max_pending: int = 100_000,
    ) -> None:
        """``send`` delivers one batch (raising if it could not); ``what`` names the items and
        where they stay safe, for log lines (e.g. "events (they are in the database)")."""
        self._send = send
        self._name = name
        self._what = what
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._pending: collections.deque[T] = collections.deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._busy = False
        self.dropped = 0

    def put(self, item: T) -> bool:
        """Queue one item (cheap: may be called under the database write lock). False when
        the handoff is closed (the caller sends it itself, or leaves it to a sweeper)."""
        with self._cond:
            if self._closed:
                return False
            if len(self._pending) >= self._max_pending:
                self._pending.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 10_000 == 0:
                    log.warning(
                        "%s is not keeping up: %d %s dropped", self._name, self.dropped, self._what
                    )
            self._pending.append(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()
        return True

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
                self._send(batch)
            except Exception as exc:  # Redis away: the database holds them all the same
                log.warning("%s could not send %d %s: %s", self._name, len(batch), self._what, exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
