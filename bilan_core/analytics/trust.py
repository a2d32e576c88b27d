"""The trust-score arithmetic: vote weights, the Wilson interval and the trend rule.

Pure functions on counts, so SQL does the aggregation and these only finish the sums.
"""

from __future__ import annotations

import math

HALF_LIFE_DAYS = 7.0
MIN_WEIGHT = 0.01
Z_95 = 1.959963984540054
TREND_MIN_VOTES = 10
TREND_THRESHOLD = 0.10


def vote_weight(age_days: float) -> float:
    """A vote's weight: halves every 7 days, never below 0.01."""
    return max(MIN_WEIGHT, 0.5 ** (max(age_days, 0.0) / HALF_LIFE_DAYS))


def weighted_share(positive_weight: float, total_weight: float) -> float | None:
    """The weighted share of positive votes, or None without votes."""
    if total_weight <= 0:
        return None
    return min(1.0, max(0.0, positive_weight / total_weight))


def wilson_interval(positive: int, total: int, z: float = Z_95) -> tuple[float | None, float | None]:
    """The Wilson score interval for ``positive`` successes out of ``total`` (None, None if total is 0)."""
    if total <= 0:
        return None, None
    share = positive / total
    denominator = 1 + z * z / total
    centre = (share + z * z / (2 * total)) / denominator
    half_width = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half_width), min(1.0, centre + half_width)


def trend(total: int, first_half_positive: int, positive: int) -> str:
    """``improving``, ``declining`` or ``stable`` from the two time-ordered halves' positive rates."""
    if total < TREND_MIN_VOTES:
        return "stable"
    half = total // 2
    earlier = first_half_positive / half
    later = (positive - first_half_positive) / (total - half)
    if later - earlier > TREND_THRESHOLD:
        return "improving"
    if later - earlier < -TREND_THRESHOLD:
        return "declining"
    return "stable"
