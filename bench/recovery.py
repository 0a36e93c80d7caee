"""Recovery: ``kill -9`` of the worker driving a run; the run must finish on another worker,
with no run lost and no side effect repeated (SPEC §4.6, §11).

``plait up`` (2 workers, defaults) runs a webhook workflow whose side effects are
``http_request`` POSTs to a journal server in this process; each request carries the node's
idempotency key ``{run}:{node}:{iteration}``. The workflow is ``before`` (POST) → ``slow`` (a
code step sleeping 1.5 s) → ``after`` (POST). Each trial fires a webhook, waits until ``slow``
has started (so ``before`` has completed and been journaled), SIGKILLs the worker process that
holds the run's lease (its sandbox zygote then kills the snippet), and times until the run is
``succeeded`` (``plait up`` restarts the killed worker; the trial after waits for two workers).

* ``lost``: runs that did not succeed within 60 s, or whose ``before``/``after`` never reached
  the journal;
* ``duplicated``: idempotency keys the journal received more than once. The kill lands while
  no request is in flight, so a repeat can only be a completed side effect re-run (the strict
  reading of §4.6, stricter than a server that deduplicates by key);
* ``max_seconds_to_complete``: kill → run ``succeeded``, over all trials.

    python bench/recovery.py [--quick] [--trials N]

Targets: 0 lost, 0 duplicated, max < 5 s.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import signal
import sqlite3
import statistics
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from harness import PlaitUp, plait_up

WORKFLOW = """
name: Bench recovery
slug: bench-recovery
trigger: webhook
steps:
  - id: before
    type: http_request
    config:
      method: POST
      url: "{journal}/before"
      body: {{run: "{{{{ run.id }}}}"}}
  - id: slow
    type: code
    code: |
      import time
      time.sleep(1.5)
      return {{"slept": True}}
  - id: after
    type: http_request
    config:
      method: POST
      url: "{journal}/after"
      body: {{run: "{{{{ run.id }}}}"}}
"""


class Journal:
    """An HTTP server recording every POST's path and Idempotency-Key."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, float]] = []
        self.lock = threading.Lock()
        journal = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                key = self.headers.get("Idempotency-Key", "")
                with journal.lock:
                    journal.entries.append((self.path, key, time.monotonic()))
                body = json.dumps({"ok": True}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def keys_of(self, run_id: str) -> list[tuple[str, str]]:
        with self.lock:
            return [(p, k) for p, k, _ in self.entries if k.startswith(run_id + ":")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_row(up: PlaitUp, run_id: str) -> tuple[str, str | None]:
    with contextlib.closing(
        sqlite3.connect(f"file:{up.db_path}?mode=ro", uri=True, timeout=30)
    ) as c:
        row = c.execute("SELECT status, lease_owner FROM runs WHERE id = ?", (run_id,)).fetchone()
    return (row[0], row[1]) if row else ("missing", None)


def wait_workers(up: PlaitUp, n: int, timeout_s: float = 60) -> None:
    """Until ``n`` worker processes run and have had time to start serving."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pids = up.worker_pids()
        if len(pids) >= n and all(_age_s(p) > 2.0 for p in pids):
            return
        time.sleep(0.2)
    raise RuntimeError(f"fewer than {n} workers running")


def _age_s(pid: int) -> float:
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - ticks / os.sysconf("SC_CLK_TCK")


def trial(up: PlaitUp, journal: Journal, api: httpx.Client, i: int) -> dict[str, Any]:
    hook = httpx.post(f"{up.url}/hooks/bench-recovery/trigger_webhook", json={"trial": i})
    hook.raise_for_status()
    run_id = hook.json()["run_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = api.get(f"/api/v1/runs/{run_id}/events").json()["items"]
        if any(e["type"] == "node_started" and e["node_id"] == "slow" for e in events):
            break
        time.sleep(0.05)
    else:
        return {"run_id": run_id, "lost": True, "reason": "slow never started"}
    time.sleep(0.2)  # well inside the 1.5 s sleep: no request in flight
    _, owner = run_row(up, run_id)
    if owner is None or owner.count(":") < 2:
        return {"run_id": run_id, "lost": True, "reason": f"no worker holds the run ({owner})"}
    pid = int(owner.split(":")[1])
    killed_at, killed_wall = time.monotonic(), time.time()
    os.kill(pid, signal.SIGKILL)
    status = "running"
    while time.monotonic() < killed_at + 60:
        status, _ = run_row(up, run_id)
        if status in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.05)
    took = time.monotonic() - killed_at
    starts = [
        datetime.fromisoformat(e["ts"]).timestamp()
        for e in api.get(f"/api/v1/runs/{run_id}/events").json()["items"]
        if e["type"] == "node_started" and e["node_id"] == "slow"
    ]
    keys = journal.keys_of(run_id)
    paths = collections.Counter(p for p, _ in keys)
    return {
        "run_id": run_id,
        "killed_pid": pid,
        "status": status,
        "seconds": round(took, 2),
        # kill → the interrupted step starts again on another worker
        "seconds_to_resume": round(starts[-1] - killed_wall, 2) if len(starts) > 1 else None,
        "lost": status != "succeeded" or paths["/before"] < 1 or paths["/after"] < 1,
        "duplicated": sum(n - 1 for n in collections.Counter(k for _, k in keys).values()),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="3 trials")
    ap.add_argument("--trials", type=int, default=None)
    args = ap.parse_args()
    trials = args.trials or (3 if args.quick else 20)
    journal = Journal()
    results: list[dict[str, Any]] = []
    try:
        with plait_up(workers=2) as up, up.client() as api:
            up.publish(WORKFLOW.format(journal=journal.url))
            for i in range(trials):
                wait_workers(up, 2)
                results.append(trial(up, journal, api, i))
    finally:
        journal.close()
    seconds = [r["seconds"] for r in results if "seconds" in r]
    print(
        json.dumps(
            {
                "trials": trials,
                "lost": sum(1 for r in results if r["lost"]),
                "duplicated": sum(r.get("duplicated", 0) for r in results),
                "max_seconds_to_complete": max(seconds) if seconds else None,
                "median_seconds_to_complete": statistics.median(seconds) if seconds else None,
                "max_seconds_to_resume": max(
                    (r["seconds_to_resume"] for r in results if r.get("seconds_to_resume")),
                    default=None,
                ),
                "details": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
