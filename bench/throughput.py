"""Throughput: webhook → 4 ``code`` nodes → succeeded, on ``plait up`` defaults (SPEC §11).

Starts ``plait up`` (API + 2 workers + embedded valkey, SQLite) in a temp workspace, imports a
webhook workflow of four ``code`` steps, and fires webhooks from this process (``--concurrency``
keep-alive connections, each body unique so none is deduplicated) for ``--seconds``. Then it
waits until no run is queued or running and counts from the database:

* ``runs_per_s``: runs of the measured window that reached ``succeeded``, divided by the time
  from the first webhook to the last of them finishing (backlog included: sustained, not burst);
* ``p50_ms`` / ``p99_ms``: webhook ``202`` latency seen by the client;
* ``dramatiq_noop_msgs_per_s``: raw Dramatiq on the same Redis, same shape (2 processes x 8
  threads), a no-op actor; ``ratio`` = runs_per_s / that.

    python bench/throughput.py [--quick] [--seconds S] [--concurrency C] [--workers N]

Targets: runs_per_s ≥ 220, p50 < 5 ms, p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import redis
from harness import drain, fire, percentile, plait_up, run_counts, run_times

WORKFLOW = """
name: Bench four code steps
slug: bench-four
trigger: webhook
steps:
  - id: a
    type: code
    code: |
      return {"n": trigger["payload"]["n"]}
  - id: b
    type: code
    code: |
      return {"n": a["n"] + 1}
  - id: c
    type: code
    code: |
      return {"n": b["n"] * 2}
  - id: d
    type: code
    code: |
      return {"n": c["n"], "ok": True}
"""
HOOK = "/hooks/bench-four/trigger_webhook"


def noop_worker(url: str, namespace: str, threads: int) -> None:
    """A Dramatiq worker process with a no-op handler (until SIGTERM)."""
    from workspace.queue.dramatiq_queue import DramatiqTaskQueue

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    queue = DramatiqTaskQueue(url, namespace=namespace)
    queue.serve(lambda task: None, threads=threads, stop=stop)
    queue.close()


def dramatiq_noop_rate(
    url: str, messages: int, processes: int = 2, threads: int = 8, timeout_s: float = 120
) -> float:
    """Messages per second that ``processes`` x ``threads`` raw Dramatiq workers drain."""
    from workspace.queue.dramatiq_queue import DramatiqTaskQueue
    from workspace.queue.ports import Task

    namespace = f"bench:noop:{uuid.uuid4().hex[:8]}"
    producer = DramatiqTaskQueue(url, namespace=namespace)
    for i in range(messages):
        producer.send(Task("start", f"r{i}"))
    client = redis.Redis.from_url(url)
    pending_key = f"{namespace}:plait.msgs"
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--noop-worker", url, namespace, str(threads)],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        for _ in range(processes)
    ]
    try:
        deadline = time.monotonic() + timeout_s
        started = None
        while time.monotonic() < deadline:
            left = int(client.hlen(pending_key))
            if started is None and left < messages:
                started, at_start = time.perf_counter(), left
            if left == 0:
                break
            time.sleep(0.005)
        else:
            raise RuntimeError("the no-op workers did not drain the queue")
        assert started is not None
        return (at_start + 0.0) / (time.perf_counter() - started)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)
        producer.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="short run, well under 60 s")
    ap.add_argument("--seconds", type=float, default=None, help="firing time (default 30, 8)")
    ap.add_argument("--concurrency", type=int, default=16, help="client connections")
    ap.add_argument("--workers", type=int, default=2, help="plait up --workers")
    ap.add_argument("--noop-messages", type=int, default=None)
    ap.add_argument("--noop-worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.noop_worker:
        url, namespace, threads = args.noop_worker
        noop_worker(url, namespace, int(threads))
        return
    seconds = args.seconds or (8.0 if args.quick else 30.0)
    noop_messages = args.noop_messages or (3000 if args.quick else 20000)

    result: dict[str, Any] = {}
    with plait_up(workers=args.workers) as up:
        up.publish(WORKFLOW)
        warm = fire(up.url, HOOK, seconds=10, concurrency=4, limit=40)  # zygotes, caches
        drain(up.db_path, 60)
        before = sum(run_counts(up.db_path).values())
        assert warm["statuses"].get(202) == 40, warm["statuses"]

        fire_start = time.time()
        shot = fire(up.url, HOOK, seconds=seconds, concurrency=args.concurrency)
        accepted = shot["statuses"].get(202, 0)
        fire_end_backlog = run_counts(up.db_path)
        counts = drain(up.db_path, timeout_s=max(60.0, seconds * 6), expected=before + accepted)
        times = [t for t in run_times(up.db_path) if t[0] >= fire_start - 0.5]
        finished = max(t[1] for t in times) if times else fire_start
        lat = shot["latencies"]
        result = {
            "runs_per_s": round(len(times) / (finished - fire_start), 1),
            "p50_ms": round(percentile(lat, 0.50) * 1000, 2),
            "p99_ms": round(percentile(lat, 0.99) * 1000, 2),
            "webhooks_per_s": round(accepted / shot["elapsed_s"], 1),
            "webhooks_accepted": accepted,
            "webhook_statuses": shot["statuses"],
            "runs_succeeded": len(times),
            "runs_by_status": counts,
            "backlog_at_end_of_firing": fire_end_backlog.get("queued", 0)
            + fire_end_backlog.get("running", 0),
            "drain_s": round(finished - fire_start - shot["elapsed_s"], 2),
            "run_latency_p50_ms": round(percentile([b - a for a, b in times], 0.5) * 1000, 1),
            "seconds": seconds,
            "concurrency": args.concurrency,
            "workers": args.workers,
        }
        noop = dramatiq_noop_rate(up.redis_url, noop_messages)
        result["dramatiq_noop_msgs_per_s"] = round(noop, 1)
        result["ratio"] = round(result["runs_per_s"] / noop, 3)
        result["cpus"] = os.cpu_count()
        result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
