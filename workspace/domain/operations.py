"""What the runtime keeps about running work: run leases, wake-ups, workers, webhook deliveries.

A worker *claims* a run before driving it (a lease with an expiry it renews by heartbeat), so
one run is driven by one worker at a time. A lease that stops being renewed means the worker
died: the sweeper hands the run to the queue again (SPEC §4.6: nothing stays running forever).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

#: The lease owner of a run that sits in the task queue, not yet claimed by a worker.
QUEUE_OWNER = "queue"


class Lease(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    owner: str | None
    until: datetime | None
    wake_at: datetime | None = None


class WorkerInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
