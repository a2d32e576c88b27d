"""A time range cut into whole days, whole hours and partial hours covers it exactly, once."""

from __future__ import annotations

import itertools
import random

import pytest

from bilan_core.analytics.time_parts import TimeParts, time_parts
from bilan_core.clock import MS_PER_DAY, MS_PER_HOUR

FAR = 10**15  # stands in for an open end when checking coverage


def covered(parts: TimeParts) -> list[tuple[int, int]]:
    """Every part as a millisecond range, sorted."""
    found = [
        (
            first * MS_PER_DAY if first is not None else -FAR,
            (last + 1) * MS_PER_DAY if last is not None else FAR,
        )
        for first, last in parts.days
    ]
    found += [(first * MS_PER_HOUR, (last + 1) * MS_PER_HOUR) for first, last in parts.hours]  # type: ignore[operator]
    found += parts.raw
    return sorted(found)


def test_whole_days_are_one_day_span_and_nothing_else() -> None:
    assert time_parts(10 * MS_PER_DAY, 40 * MS_PER_DAY) == TimeParts(days=[(10, 39)])
    assert time_parts(None, None) == TimeParts(days=[(None, None)])


def test_the_24_whole_hours_of_a_preset_are_read_from_hours_alone() -> None:
    start = 100 * MS_PER_DAY + 13 * MS_PER_HOUR
    assert time_parts(start, start + MS_PER_DAY) == TimeParts(hours=[(2413, 2436)])


def test_a_range_inside_one_hour_is_read_from_the_rows() -> None:
    assert time_parts(5_000, 9_000) == TimeParts(raw=[(5_000, 9_000)])


def test_partial_hours_at_both_ends_are_at_most_an_hour_each() -> None:
    parts = time_parts(3 * MS_PER_DAY + 5 * MS_PER_HOUR + 7, 5 * MS_PER_DAY + 2 * MS_PER_HOUR + 11)
    assert parts.days == [(4, 4)]
    assert parts.raw == [
        (3 * MS_PER_DAY + 5 * MS_PER_HOUR + 7, 3 * MS_PER_DAY + 6 * MS_PER_HOUR),
        (5 * MS_PER_DAY + 2 * MS_PER_HOUR, 5 * MS_PER_DAY + 2 * MS_PER_HOUR + 11),
    ]


@pytest.mark.parametrize("seed", range(200))
def test_parts_cover_the_range_exactly_once_and_never_straddle_a_cut(seed: int) -> None:
    rng = random.Random(seed)
    start = None if rng.random() < 0.2 else rng.randint(0, 40 * MS_PER_DAY)
    end = None if rng.random() < 0.2 else (start or 0) + rng.randint(1, 30 * MS_PER_DAY)
    cuts = [rng.randint(0, 80 * MS_PER_DAY) for _ in range(rng.choice((0, 1, 2)))]
    pieces = covered(time_parts(start, end, cuts))
    assert pieces[0][0] == (start if start is not None else -FAR)
    assert pieces[-1][1] == (end if end is not None else FAR)
    for (_, previous_end), (next_start, _) in itertools.pairwise(pieces):
        assert previous_end == next_start  # no gap, no overlap
    for low, high in pieces:
        assert low < high
        assert not any(low < cut < high for cut in cuts)
    assert all(high - low < MS_PER_HOUR for low, high in time_parts(start, end, cuts).raw)
