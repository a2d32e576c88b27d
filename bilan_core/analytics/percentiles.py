"""Latency percentiles: exact nearest-rank values found by walking an index ordered by the value.

``LIMIT 1 OFFSET k`` on the index that leads with the value (per model, or over all models), so a p95
costs a walk over 5% of the index, never a sort of every turn.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.analytics.rollups import read_turn_rollup
from bilan_core.store.models import TURNS, Turn


def latency_percentiles(
    engine: Engine, where: AnalyticsFilter, *, rollup: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per model: p50 and p95 (nearest rank) of time to first token and of total latency, in ms."""
    with engine.connect() as connection:
        counts = read_turn_rollup(connection, where) if rollup is None else rollup
        return per_model_percentiles(connection, where, counts)


def per_model_percentiles(
    connection: Connection, where: AnalyticsFilter, rollup: pd.DataFrame
) -> pd.DataFrame:
    """``latency_percentiles`` on an open connection, with the turn roll-up already read."""
    columns = ["model", "turns", "ttft_p50", "ttft_p95", "latency_p50", "latency_p95"]
    if rollup.empty:
        return pd.DataFrame(columns=columns)
    counts = rollup.groupby("model", sort=True)[["turns", "latency_count", "ttft_count"]].sum()
    rows = []
    for model, row in counts.iterrows():
        scoped = replace(where, models=(str(model),))
        rows.append(
            {
                "model": model,
                "turns": int(row["turns"]),
                "ttft_p50": percentile(connection, scoped, "ttft_ms", int(row["ttft_count"]), 0.50, True),
                "ttft_p95": percentile(connection, scoped, "ttft_ms", int(row["ttft_count"]), 0.95, True),
                "latency_p50": percentile(
                    connection, scoped, "latency_ms", int(row["latency_count"]), 0.50, True
                ),
                "latency_p95": percentile(
                    connection, scoped, "latency_ms", int(row["latency_count"]), 0.95, True
                ),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def median_latency(
    engine: Engine, where: AnalyticsFilter, *, rollup: pd.DataFrame | None = None
) -> float | None:
    """The nearest-rank median total latency (ms) of the turns ``where`` selects, or None."""
    with engine.connect() as connection:
        counts = read_turn_rollup(connection, where) if rollup is None else rollup
        total = int(counts["latency_count"].sum()) if not counts.empty else 0
        return percentile(connection, where, "latency_ms", total, 0.50, False)


_PERCENTILE_INDEXES = {
    ("latency_ms", True): "ix_turns_model_latency",
    ("ttft_ms", True): "ix_turns_model_ttft",
}


def percentile(
    connection: Connection,
    where: AnalyticsFilter,
    measure: str,
    count: int,
    share: float,
    per_model: bool,
) -> float | None:
    """The nearest-rank ``share`` percentile of a turn column over its ``count`` values ``where`` selects."""
    # Nearest rank: the k-th smallest value, k = ceil(share * count). The high ranks are reached
    # from the top so that a p95 walks 5% of the index, not 95%.
    if count <= 0:
        return None
    rank = max(1, math.ceil(share * count))
    ascending = rank <= count - rank + 1
    value = TURNS.c[measure]
    statement = (
        select(value)
        .where(*where.conditions(Turn), value.is_not(None))
        .order_by(value if ascending else value.desc())
        .limit(1)
        .offset(rank - 1 if ascending else count - rank)
    )
    index = _PERCENTILE_INDEXES.get((value.key, per_model), "ix_turns_latency")
    statement = statement.with_hint(Turn, f"INDEXED BY {index}", dialect_name="sqlite")
    found = connection.execute(statement).scalar_one_or_none()
    return None if found is None else float(found)
