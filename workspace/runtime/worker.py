"""``serve_worker``: one worker process — Dramatiq consumer threads, lease heartbeats, sweeper.

``plait worker`` (and each worker ``plait up`` starts) calls this. It registers the process
in the worker registry (readiness: "workers seen"), serves tasks until ``stop`` is set, then
stops taking messages, lets the runs in hand reach a stable point, and unregisters.
"""

from __future__ import annotations

import logging
import threading

from workspace.errors import ConfigurationError
from workspace.queue.dramatiq_queue import DramatiqTaskQueue
from workspace.runtime.sweeper import Sweeper
from workspace.runtime.workspace import Workspace

log = logging.getLogger(__name__)


def serve_worker(ws: Workspace, stop: threading.Event, *, threads: int | None = None) -> None:
    queue = ws.queue
    if not isinstance(queue, DramatiqTaskQueue):
        raise ConfigurationError(
            "a worker needs Redis: set PLAIT_REDIS_URL or start it with `plait up`",
            code="no_task_queue",
        )
    ws.credentials.check_key()  # a worker that cannot decrypt the workspace's secrets refuses
    rt = ws.settings.runtime
    sweeper = Sweeper(
        ws.store,
        queue,
        interval_s=rt.sweep_interval_s,
        queued_grace_s=rt.queued_grace_s,
        requeue_ttl_s=rt.queued_grace_s,
    )
    ws.leases.register_worker()
    sweeper.start()
    log.info("worker %s serving with %d threads", ws.leases.owner, threads or rt.worker_threads)
    try:
        queue.serve(ws.execute, threads=threads or rt.worker_threads, stop=stop)
    finally:
        sweeper.close()
        ws.leases.close()
