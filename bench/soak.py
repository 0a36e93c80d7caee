"""Soak: one worker process runs many runs; its resident memory must not keep growing
(SPEC §11: RSS growth < 10% over 10,000 runs).

``plait up --workers 1`` (SQLite, embedded valkey) and the four-``code``-step webhook workflow
of ``bench/throughput.py``. Webhooks are fired in chunks, keeping the backlog small, until
``--runs`` runs exist; the worker's RSS (``VmRSS``) is sampled after ``--warmup`` runs have
finished and again when all have (and every ``--runs/10`` runs in between). The sandbox zygote
and its warm hosts are separate processes: their RSS is reported too.

    python bench/soak.py [--quick] [--runs N] [--warmup N]

Prints ``rss_growth_pct`` = (end - after warm-up) / after warm-up x 100. Target < 10.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from harness import drain, fire, plait_up, rss_kb, run_counts
from throughput import HOOK, WORKFLOW


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                out.append(int(entry.name))
    return out


def _rss(pid: int) -> int:
    """RSS of a process that may end any moment (0 once it has)."""
    try:
        return rss_kb(pid)
    except (OSError, RuntimeError):
        return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="600 runs")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--chunk", type=int, default=100)
    args = ap.parse_args()
    total = args.runs or (600 if args.quick else 10_000)
    warmup = args.warmup or max(100, total // 10)

    samples: list[dict[str, Any]] = []
    started = time.monotonic()
    with plait_up(workers=1) as up:
        up.publish(WORKFLOW)
        (worker,) = up.worker_pids()
        sent = 0
        baseline: int | None = None
        next_sample = warmup
        while sent < total:
            n = min(args.chunk, total - sent)
            shot = fire(up.url, HOOK, seconds=120, concurrency=4, limit=n)
            sent += shot["statuses"].get(202, 0)
            done = drain(up.db_path, timeout_s=300, expected=sent)
            finished = sum(v for k, v in done.items() if k not in ("queued", "running"))
            if finished >= next_sample:
                zygotes = children_of(worker)
                hosts = [h for z in zygotes for h in children_of(z)]
                sample = {
                    "runs": finished,
                    "worker_rss_kb": rss_kb(worker),
                    "zygote_rss_kb": sum(rss_kb(z) for z in zygotes),
                    # warm sandbox hosts (children of the zygote; replaced every 500 snippets)
                    "hosts": len(hosts),
                    "host_rss_max_kb": max((_rss(h) for h in hosts), default=0),
                    "s": round(time.monotonic() - started, 1),
                }
                samples.append(sample)
                if baseline is None:
                    baseline = sample["worker_rss_kb"]
                next_sample += max(args.chunk, total // 10)
        counts = run_counts(up.db_path)
        end = rss_kb(worker)
        assert up.worker_pids() == [worker], "the worker was restarted during the soak"
    assert baseline is not None
    print(
        json.dumps(
            {
                "runs": total,
                "warmup_runs": warmup,
                "rss_after_warmup_kb": baseline,
                "rss_end_kb": end,
                "rss_growth_pct": round((end - baseline) / baseline * 100, 2),
                "runs_by_status": counts,
                "seconds": round(time.monotonic() - started, 1),
                "samples": samples,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
