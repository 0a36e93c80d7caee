"""The in-process event sink: durable in the store's event log, fanned out to subscribers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from workspace.domain.events import Event
from workspace.domain.operation_ports import DeliveryRepository
from workspace.domain.ports import EventLog
from workspace.domain.run import Run, RunStatus, StepRecord

log = logging.getLogger(__name__)

#: called with each stored event (its return value is ignored)
Subscriber = Callable[[Event], object]


class StoreEventSink:
    """Appends every event to the event log (which assigns ``seq``) and then calls subscribers,
    in ``seq`` order. A subscriber that raises is logged and kept; it never breaks a run.
    """

    def __init__(self, log_: EventLog) -> None:
        self._log = log_
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def emit(self, event: Event) -> Event:
        return self.record((), [event])[0]

    def record(self, steps: Sequence[StepRecord], events: Sequence[Event]) -> list[Event]:
        # the log calls _fan_out under its own write lock, so subscribers see events in ``seq``
        # order even when parallel branches emit from several threads (subscribers must be quick)
        return self._log.record(steps, events, self._fan_out)

    def defer(self, steps: Sequence[StepRecord], events: Sequence[Event]) -> None:
        self._log.defer(steps, events, self._fan_out)

    def flush(self, run_id: str) -> None:
        self._log.flush(run_id)

    def transition(
        self,
        run_id: str,
        target: RunStatus,
        fields: dict[str, Any],
        steps: Sequence[StepRecord],
        events: Sequence[Event],
        *,
        created: Sequence[Run] = (),
    ) -> Run:
        run, _ = self._log.record_transition(
            run_id, target, fields, steps, events, self._fan_out, created=created
        )
        return run

    def create(self, run: Run, events: Sequence[Event]) -> Run:
        stored, _ = self._log.record_created(run, events, self._fan_out)
        return stored

    def create_delivered(
        self,
        deliveries: DeliveryRepository,
        run: Run,
        events: Sequence[Event],
        *,
        workflow_id: str,
        trigger_id: str,
        key: str,
        ttl_s: float,
    ) -> tuple[Run, bool]:
        """A delivered run (a webhook's), its dedupe key and its first events in one
        transaction; a repeated delivery returns the first run (see ``DeliveryRepository``)."""
        return deliveries.create_run(
            run,
            workflow_id=workflow_id,
            trigger_id=trigger_id,
            key=key,
            ttl_s=ttl_s,
            events=events,
            on_stored=self._fan_out,
        )

    def _fan_out(self, stored: list[Event]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for ev in stored:
            for sub in subscribers:
                try:
                    sub(ev)
                except Exception:
                    log.exception("event subscriber failed")

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe
