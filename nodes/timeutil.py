"""Date/time helpers shared by ``wait`` and ``datetime``."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from workspace.errors import NodeError

Unit = Literal["seconds", "minutes", "hours", "days"]
UNIT_SECONDS: dict[str, int] = {
    "seconds": 1,
    "minutes": 60,
    "hours": 3600,
    "days": 86400,
    "weeks": 7 * 86400,
}
_UNIT_ALIASES = {
    "s": "seconds", "sec": "seconds", "secs": "seconds", "second": "seconds",
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours",
    "d": "days", "day": "days", "w": "weeks", "week": "weeks",
}  # fmt: skip


def normalise_unit(value: Any) -> Any:
    """``"min"`` → ``"minutes"`` etc. (a pydantic ``mode="before"`` helper)."""
    if isinstance(value, str):
        key = value.strip().lower()
        return _UNIT_ALIASES.get(key, key)
    return value


def zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def check_timezone(name: str) -> str:
    zone(name)
    return name


def parse_datetime(value: Any, *, field: str, tz: tzinfo = UTC) -> datetime:
    """ISO 8601 string, datetime or epoch seconds → aware datetime (naive values get ``tz``)."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz)
    elif isinstance(value, str):
        text = value.strip()
        try:
            when = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise NodeError(
                f"{field}: {value!r} is not an ISO 8601 datetime",
                code="bad_datetime",
                retryable=False,
                field=field,
            ) from None
    else:
        raise NodeError(
            f"{field}: expected a datetime, got {type(value).__name__}",
            code="bad_datetime",
            retryable=False,
            field=field,
        )
    return when if when.tzinfo else when.replace(tzinfo=tz)
