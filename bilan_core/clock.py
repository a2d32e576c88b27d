"""Wall-clock time as integer epoch milliseconds, the unit every table stores."""

from __future__ import annotations

import time
from datetime import UTC, datetime

MS_PER_DAY = 86_400_000
MS_PER_HOUR = 3_600_000


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def to_datetime(epoch_ms: int) -> datetime:
    """An aware UTC datetime for an epoch-milliseconds value."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def to_ms(moment: datetime | int | float) -> int:
    """Epoch milliseconds for a datetime (naive means UTC) or a number already in milliseconds."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    return int(moment)
