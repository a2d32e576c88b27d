"""The trust-score arithmetic: vote weights, the Wilson interval and the trend rule.

Pure functions on counts, so SQL does the aggregation and these only finish the sums. ``get_stats``
and the Analytics headline both finish theirs with ``trust_figures``, so they cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bilan_core.store.rollups import HALF_LIFE_DAYS  # the roll-ups' weights carry the same half-life

MIN_WEIGHT = 0.01
# From this age on a vote weighs MIN_WEIGHT; SQL caps the age here, so power() never underflows
# (0.5 ** (age / 7) is below the smallest double after about 20 years, an error on PostgreSQL).
FLOOR_AGE_DAYS = HALF_LIFE_DAYS * math.log2(1 / MIN_WEIGHT)
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


@dataclass(frozen=True)
class TrustFigures:
    """The trust figures of a set of votes."""

    trust_score: float | None
    low: float | None
    high: float | None
    positive_rate: float | None
    trend: str


def trust_figures(
    *, votes: int, positive: int, weight: float, positive_weight: float, first_half_positive: int
) -> TrustFigures:
    """Score, 95% interval, positive rate and trend from the sums over a set of votes.

    ``weight`` and ``positive_weight`` sum ``vote_weight`` over all and over the positive votes;
    ``first_half_positive`` counts the positive votes among the earliest ``votes // 2``.
    """
    low, high = wilson_interval(positive, votes)
    return TrustFigures(
        trust_score=weighted_share(positive_weight, weight),
        low=low,
        high=high,
        positive_rate=positive / votes if votes else None,
        trend=trend(votes, first_half_positive, positive),
    )
