"""A time range cut into what the roll-ups hold whole: UTC days, then UTC hours, then raw rows.

``time_parts`` splits ``[start, end)`` (either end open) at optional cut points, then each piece into
the whole days it holds, the whole hours of what is left, and at most one partial hour at each end,
which is read from the rows themselves. So a range of whole hours reads roll-ups only, and any other
range reads at most two partial hours of rows, whatever the number of turns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise

from bilan_core.clock import MS_PER_DAY, MS_PER_HOUR

Span = tuple[int | None, int | None]  # inclusive first and last bucket (None: open)
MsRange = tuple[int, int]  # [start, end) in epoch milliseconds


@dataclass
class TimeParts:
    """Whole days and whole hours (inclusive bucket spans) and the rest as millisecond ranges."""

    days: list[Span] = field(default_factory=list)
    hours: list[Span] = field(default_factory=list)
    raw: list[MsRange] = field(default_factory=list)


def _ceil_div(value: int, size: int) -> int:
    return -(-value // size)


def time_parts(start_ms: int | None, end_ms: int | None, cuts: Iterable[int] = ()) -> TimeParts:
    """``[start_ms, end_ms)`` as whole days, whole hours and partial-hour ranges, split at ``cuts``."""
    parts = TimeParts()
    inside = sorted(
        {cut for cut in cuts if (start_ms is None or cut > start_ms) and (end_ms is None or cut < end_ms)}
    )
    bounds: list[int | None] = [start_ms, *inside, end_ms]
    for low, high in pairwise(bounds):
        _add_piece(parts, low, high)
    return parts


def _add_piece(parts: TimeParts, low: int | None, high: int | None) -> None:
    first = None if low is None else _ceil_div(low, MS_PER_DAY)
    last = None if high is None else high // MS_PER_DAY - 1
    if first is not None and last is not None and first > last:  # no whole day: hours and rows only
        assert low is not None and high is not None  # an open piece always holds whole days
        _add_hours(parts, low, high)
        return
    parts.days.append((first, last))
    if low is not None and first is not None and low < first * MS_PER_DAY:
        _add_hours(parts, low, first * MS_PER_DAY)
    if high is not None and last is not None and (last + 1) * MS_PER_DAY < high:
        _add_hours(parts, (last + 1) * MS_PER_DAY, high)


def _add_hours(parts: TimeParts, low: int, high: int) -> None:
    first, last = _ceil_div(low, MS_PER_HOUR), high // MS_PER_HOUR - 1
    if first > last:
        parts.raw.append((low, high))
        return
    parts.hours.append((first, last))
    if low < first * MS_PER_HOUR:
        parts.raw.append((low, first * MS_PER_HOUR))
    if (last + 1) * MS_PER_HOUR < high:
        parts.raw.append(((last + 1) * MS_PER_HOUR, high))
