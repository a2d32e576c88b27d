"""The turn and vote sums of a filter (from the roll-up tables) and the figures derived from them.

``turn_rollup`` and ``vote_rollup`` read ``rollup_reads``' sums: turns per day, model and prompt version
with latency histograms per model; votes per day, model, prompt version, voter and value with their
trust weights. Every per-model, per-day and per-version figure of the page is derived from those two.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from sqlalchemy import Engine

from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.analytics.frames import day_dates
from bilan_core.analytics.rollup_reads import TurnSums, VoteSums, read_turn_sums, read_vote_sums
from bilan_core.analytics.trust import weighted_share, wilson_interval
from bilan_core.clock import now_ms
from bilan_core.pricing import Price, estimate_cost

LOW_VOTE_DAY = 5
ROLLING_DAYS = 7
NO_VERSION = "(none)"


def turn_rollup(engine: Engine, where: AnalyticsFilter) -> TurnSums:
    """Turns per day, model and prompt version (counts by outcome, tokens) and latency histograms."""
    with engine.connect() as connection:
        return read_turn_sums(connection, where)


def vote_rollup(engine: Engine, where: AnalyticsFilter, *, at_ms: int | None = None) -> VoteSums:
    """Votes per day, model, prompt version, voter and value, with their trust weights at ``at_ms``."""
    with engine.connect() as connection:
        return read_vote_sums(connection, where, now_ms() if at_ms is None else at_ms)


# --- figures derived from the roll-ups --------------------------------------------------------------


def _vote_counts(rollup: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    frame = rollup.assign(
        positive=rollup["votes"].where(rollup["value"] > 0, 0),
        positive_weight=rollup["weight"].where(rollup["value"] > 0, 0.0),
    )
    grouped = frame.groupby(keys, dropna=False, sort=True)[["votes", "positive", "weight", "positive_weight"]]
    return grouped.sum().reset_index()


def _with_trust(counts: pd.DataFrame) -> pd.DataFrame:
    counts = counts.astype({"votes": "int64", "positive": "int64"})
    counts["negative"] = counts["votes"] - counts["positive"]
    counts["positive_rate"] = counts["positive"] / counts["votes"].where(counts["votes"] > 0)
    counts["trust_score"] = [
        weighted_share(float(p), float(w))
        for p, w in zip(counts["positive_weight"], counts["weight"], strict=True)
    ]
    bounds = [
        wilson_interval(int(p), int(n)) for p, n in zip(counts["positive"], counts["votes"], strict=True)
    ]
    counts["trust_low"] = [low for low, _ in bounds]
    counts["trust_high"] = [high for _, high in bounds]
    return counts.drop(columns=["weight", "positive_weight"])


def trust_from_rollup(rollup: pd.DataFrame) -> pd.DataFrame:
    """Per model: votes, 👍, 👎, positive rate, weighted trust score and its 95% Wilson interval."""
    if rollup.empty:
        return _with_trust(pd.DataFrame(columns=["model", "votes", "positive", "weight", "positive_weight"]))
    return _with_trust(_vote_counts(rollup.fillna({"model": "(unknown)"}), ["model"]))


def daily_trust_from_rollup(rollup: pd.DataFrame, *, low_votes: int = LOW_VOTE_DAY) -> pd.DataFrame:
    """Per day and model: votes, positive rate with its interval, and whether the day has few votes."""
    if rollup.empty:
        frame = _with_trust(
            pd.DataFrame(columns=["day", "model", "votes", "positive", "weight", "positive_weight"])
        )
    else:
        frame = _with_trust(_vote_counts(rollup.fillna({"model": "(unknown)"}), ["day", "model"]))
    frame["date"] = day_dates(frame["day"]) if not frame.empty else pd.Series(dtype="datetime64[ns]")
    frame["low_votes"] = frame["votes"] < low_votes
    return frame


def rolling_trust(daily: pd.DataFrame, *, days: int = ROLLING_DAYS) -> pd.DataFrame:
    """Per model and day: the share of 👍 over the ``days`` days ending that day (days without votes count).

    Computed from ``daily_trust_from_rollup``'s per-day frame; a model's line starts at its first voted day.
    """
    columns = ["day", "date", "model", "rolling_votes", "rolling_positive", "rolling_rate"]
    if days < 1:
        raise ValueError(f"the rolling window must be at least 1 day, got {days}")
    if daily.empty:
        return pd.DataFrame(columns=columns)
    every_day = range(int(daily["day"].min()), int(daily["day"].max()) + 1)
    parts = []
    for model, rows in daily.groupby("model", sort=True):
        sums = rows.set_index("day")[["votes", "positive"]].reindex(every_day, fill_value=0)
        sums = sums.loc[sums.index >= int(rows["day"].min())]
        window = sums.rolling(days, min_periods=1).sum()
        parts.append(
            pd.DataFrame(
                {
                    "day": window.index.astype("int64"),
                    "model": model,
                    "rolling_votes": window["votes"].astype("int64").to_numpy(),
                    "rolling_positive": window["positive"].astype("int64").to_numpy(),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame["rolling_rate"] = frame["rolling_positive"] / frame["rolling_votes"].where(
        frame["rolling_votes"] > 0
    )
    frame["date"] = day_dates(frame["day"])
    return frame[columns]


def tokens_from_rollup(rollup: pd.DataFrame, prices: Mapping[str, Price]) -> pd.DataFrame:
    """Per day and model: turns, prompt/completion/total tokens and estimated cost (NaN if unpriced)."""
    sums = ["turns", "prompt_tokens", "completion_tokens"]
    if rollup.empty:
        frame = pd.DataFrame(columns=["day", "model", *sums]).astype({name: "int64" for name in sums})
    else:
        frame = rollup.groupby(["day", "model"], sort=True)[sums].sum().reset_index()
    frame["total_tokens"] = frame["prompt_tokens"] + frame["completion_tokens"]
    frame["cost_usd"] = [
        estimate_cost(prices, m, p, c)
        for m, p, c in zip(frame["model"], frame["prompt_tokens"], frame["completion_tokens"], strict=True)
    ]
    frame["date"] = day_dates(frame["day"]) if not frame.empty else pd.Series(dtype="datetime64[ns]")
    return frame


def error_rates_from_rollup(rollup: pd.DataFrame) -> pd.DataFrame:
    """Per model: turns, errors, cancellations and their rates."""
    columns = ["model", "turns", "errors", "cancelled", "error_rate", "cancel_rate"]
    if rollup.empty:
        return pd.DataFrame(columns=columns)
    frame = rollup.rename(columns={"cancels": "cancelled"})
    frame = frame.groupby("model", sort=True)[["turns", "errors", "cancelled"]].sum().reset_index()
    frame["error_rate"] = frame["errors"] / frame["turns"]
    frame["cancel_rate"] = frame["cancelled"] / frame["turns"]
    return frame[columns]


def prompt_versions_from_rollups(turns: pd.DataFrame, votes: pd.DataFrame) -> pd.DataFrame:
    """Per prompt version: turns, error rate, tokens per turn, votes and trust with its interval."""
    turn_side = (
        turns.fillna({"prompt_version": NO_VERSION})
        .groupby("prompt_version")[["turns", "errors", "prompt_tokens", "completion_tokens"]]
        .sum()
        .reset_index()
        if not turns.empty
        else pd.DataFrame(columns=["prompt_version", "turns", "errors", "prompt_tokens", "completion_tokens"])
    )
    vote_side = (
        _with_trust(_vote_counts(votes.fillna({"prompt_version": NO_VERSION}), ["prompt_version"]))
        if not votes.empty
        else _with_trust(
            pd.DataFrame(columns=["prompt_version", "votes", "positive", "weight", "positive_weight"])
        )
    )
    merged = turn_side.merge(vote_side, on="prompt_version", how="outer").sort_values("prompt_version")
    merged = merged.fillna({"turns": 0, "errors": 0, "votes": 0, "positive": 0, "negative": 0})
    merged = merged.astype({"turns": "int64", "errors": "int64", "votes": "int64", "positive": "int64"})
    merged["error_rate"] = merged["errors"] / merged["turns"].where(merged["turns"] > 0)
    merged["tokens_per_turn"] = (merged["prompt_tokens"] + merged["completion_tokens"]) / merged[
        "turns"
    ].where(merged["turns"] > 0)
    return merged.reset_index(drop=True)
