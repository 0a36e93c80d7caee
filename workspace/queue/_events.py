"""Rules both event streams share: what may be published, and how a read picks its answer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from workspace.domain.events import Event
from workspace.errors import ValidationError

__all__ = ["check_publishable", "select_after"]


def check_publishable(events: Sequence[Event]) -> None:
    for event in events:
        if event.seq < 1:
            raise ValidationError(
                f"event {event.type} of run {event.run_id} has no seq; the event log assigns "
                "seq before an event is published",
                code="event_without_seq",
            )


def select_after(events: Iterable[Event], after: int, limit: int) -> list[Event]:
    """Events with ``seq > after``, one per seq (the first seen wins), sorted, at most ``limit``.

    Nothing is filtered against a running maximum, so an event that arrives after a higher seq
    (parallel publishers) is still returned.
    """
    by_seq: dict[int, Event] = {}
    for event in events:
        if event.seq > after and event.seq not in by_seq:
            by_seq[event.seq] = event
    return [by_seq[s] for s in sorted(by_seq)[: max(limit, 0)]]
