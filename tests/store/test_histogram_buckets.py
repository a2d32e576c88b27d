"""The vectorised histogram arithmetic a rebuild uses agrees exactly with the write path's scalar one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bilan_core.store import histograms
from bilan_core.store.rollups import day_weight, day_weights


def edge_values() -> list[float]:
    """Every bucket's lower edge, the floats just either side of it, and the odd cases."""
    found = [0.0, -1.0, 0.05, math.nan, histograms.LOW_MS, 1e12]
    for bucket in range(histograms.MAX_BUCKET + 2):
        edge = histograms.LOW_MS * histograms.RATIO**bucket
        found += [math.nextafter(edge, 0.0), edge, math.nextafter(edge, math.inf)]
    return found


def test_buckets_of_an_array_equal_bucket_of_each_value_at_every_edge_and_at_random() -> None:
    rng = np.random.default_rng(3)
    values = np.array(
        [*edge_values(), *np.round(rng.lognormal(6, 2, 200_000), 1), *rng.uniform(0, 1, 1_000)], dtype=float
    )
    assert histograms.buckets_of(values).tolist() == [
        histograms.bucket_of(value) for value in values.tolist()
    ]


def test_histograms_encoded_in_one_pass_equal_each_one_encoded() -> None:
    rng = np.random.default_rng(8)
    groups = [
        dict(
            zip(
                rng.choice(600, size, replace=False).tolist(),
                rng.integers(1, 10**6, size).tolist(),
                strict=True,
            )
        )
        for size in (0, 1, 5, 40, 0, 3)
    ]
    buckets, counts, starts, ends = [], [], [], []
    for group in groups:
        starts.append(len(buckets))
        for bucket in sorted(group):
            buckets.append(bucket)
            counts.append(group[bucket])
        ends.append(len(buckets))
    encoded = histograms.encode_runs(np.array(buckets), np.array(counts), np.array(starts), np.array(ends))
    assert encoded == [histograms.encode(group) for group in groups]


def test_day_weights_of_an_array_equal_day_weight_of_each_time() -> None:
    times = np.random.default_rng(5).integers(0, 2 * 10**12, 10_000)
    times[:3] = (0, 86_400_000 - 1, 86_400_000)
    expected = [day_weight(int(moment)) for moment in times.tolist()]
    assert day_weights(times).tolist() == pytest.approx(expected, rel=1e-12)
