"""Latency percentiles from the roll-ups' histograms (fixed log-spaced buckets, ``store.histograms``).

A percentile is the geometric middle of the bucket that holds the exact nearest-rank value, so it is
within ``histograms.MAX_RELATIVE_ERROR`` (3.9 %) of it (within 0.05 ms below 0.1 ms), read from a few
thousand roll-up rows whatever the number of turns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.analytics.rollup_reads import TurnSums, read_turn_sums
from bilan_core.store import histograms

PERCENTILE_COLUMNS = ["model", "turns", "ttft_p50", "ttft_p95", "latency_p50", "latency_p95"]


def latency_percentiles(
    engine: Engine, where: AnalyticsFilter, *, rollup: TurnSums | None = None
) -> pd.DataFrame:
    """Per model: p50 and p95 (nearest rank, from the histograms) of TTFT and total latency, in ms."""
    if rollup is None:
        with engine.connect() as connection:
            rollup = read_turn_sums(connection, where)
    return per_model_percentiles(rollup)


def per_model_percentiles(sums: TurnSums) -> pd.DataFrame:
    """``latency_percentiles`` from turn sums already read."""
    if sums.frame.empty:
        return pd.DataFrame(columns=PERCENTILE_COLUMNS)
    turns = sums.frame.groupby("model", sort=True)["turns"].sum()
    empty = np.zeros(histograms.MAX_BUCKET + 1)
    rows = []
    for model, count in turns.items():
        ttft, latency = sums.ttft.get(str(model), empty), sums.latency.get(str(model), empty)
        rows.append(
            {
                "model": model,
                "turns": int(count),
                "ttft_p50": histograms.percentile(ttft, 0.50),
                "ttft_p95": histograms.percentile(ttft, 0.95),
                "latency_p50": histograms.percentile(latency, 0.50),
                "latency_p95": histograms.percentile(latency, 0.95),
            }
        )
    return pd.DataFrame(rows, columns=PERCENTILE_COLUMNS)


def overall_median_latency(sums: TurnSums) -> float | None:
    """The median total latency (ms) over every model of the sums."""
    if not sums.latency:
        return None
    return histograms.percentile(np.sum(list(sums.latency.values()), axis=0), 0.50)


def median_latency(engine: Engine, where: AnalyticsFilter, *, rollup: TurnSums | None = None) -> float | None:
    """The nearest-rank median total latency (ms, from the histograms) of the turns ``where`` selects."""
    if rollup is None:
        with engine.connect() as connection:
            rollup = read_turn_sums(connection, where)
    return overall_median_latency(rollup)
