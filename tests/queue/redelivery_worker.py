"""A Plait task worker in its own process, for the redelivery test (and for measuring it).

Usage: python redelivery_worker.py URL NAMESPACE OUT SLEEP_S HEARTBEAT_MS MAINTENANCE_CHANCE POLL_MS

Appends ``ready <pid>`` to OUT when it starts serving, then one line
``got <pid> <message_id> <kind> <run_id> <unix time>`` per task it takes, and sleeps SLEEP_S in
the handler. SIGTERM stops it cleanly.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from workspace.queue.dramatiq_queue import DramatiqTaskQueue
from workspace.queue.ports import Task


def main(argv: list[str]) -> None:
    url, namespace, out, sleep_s, heartbeat_ms, chance, poll_ms = argv
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def write(line: str) -> None:
        with open(out, "a") as handle:
            handle.write(line + "\n")

    def handler(task: Task) -> None:
        write(f"got {os.getpid()} {task.message_id} {task.kind} {task.run_id} {time.time():.3f}")
        stop.wait(float(sleep_s))

    queue = DramatiqTaskQueue(
        url,
        namespace=namespace,
        heartbeat_timeout_ms=int(heartbeat_ms),
        maintenance_chance=int(chance),
        poll_ms=int(poll_ms),
        stop_timeout_ms=2_000,
    )
    write(f"ready {os.getpid()}")
    try:
        queue.serve(handler, threads=2, stop=stop)
    finally:
        queue.close()


if __name__ == "__main__":
    main(sys.argv[1:])
