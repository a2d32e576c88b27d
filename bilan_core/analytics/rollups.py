"""The two daily roll-ups (turns and votes) and the per-model, per-day and per-version figures from them.

Turns are grouped by day, model, prompt version and status; votes by day, model, prompt version and
value with their trust weights. Both are read in index order, so a page needs only these two small
queries even at millions of turns.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection
from sqlmodel import col

from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.analytics.frames import day_dates, result_frame
from bilan_core.analytics.sql_parts import day_bucket, weight_expression
from bilan_core.analytics.trust import weighted_share, wilson_interval
from bilan_core.clock import now_ms
from bilan_core.pricing import Price, estimate_cost
from bilan_core.store.models import Turn, Vote

STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_CANCELLED = "cancelled"
LOW_VOTE_DAY = 5
NO_VERSION = "(none)"

TURN_ROLLUP_COLUMNS = [
    "day",
    "model",
    "prompt_version",
    "status",
    "turns",
    "prompt_tokens",
    "completion_tokens",
    "latency_count",
    "ttft_count",
]
VOTE_ROLLUP_COLUMNS = ["day", "model", "prompt_version", "value", "votes", "weight"]


def turn_rollup(engine: Engine, where: AnalyticsFilter) -> pd.DataFrame:
    """Turns per day, model, prompt version and status, with token sums and latency counts."""
    with engine.connect() as connection:
        return read_turn_rollup(connection, where)


def read_turn_rollup(connection: Connection, where: AnalyticsFilter) -> pd.DataFrame:
    """``turn_rollup`` on an open connection."""
    day = day_bucket(Turn)
    statement = (
        select(
            day,
            col(Turn.model),
            col(Turn.prompt_version),
            col(Turn.status),
            func.count(),
            func.coalesce(func.sum(col(Turn.prompt_tokens)), 0),
            func.coalesce(func.sum(col(Turn.completion_tokens)), 0),
            func.count(col(Turn.latency_ms)),
            func.count(col(Turn.ttft_ms)),
        )
        .where(*where.conditions(Turn), *where.day_conditions(Turn))
        .group_by(day, col(Turn.model), col(Turn.prompt_version), col(Turn.status))
    )
    return result_frame(connection, statement, TURN_ROLLUP_COLUMNS)


def vote_rollup(engine: Engine, where: AnalyticsFilter, *, at_ms: int | None = None) -> pd.DataFrame:
    """Votes per day, model, prompt version and value, with their trust weights at ``at_ms``."""
    with engine.connect() as connection:
        return read_vote_rollup(connection, where, now_ms() if at_ms is None else at_ms)


def read_vote_rollup(connection: Connection, where: AnalyticsFilter, at_ms: int) -> pd.DataFrame:
    """``vote_rollup`` on an open connection."""
    day = day_bucket(Vote)
    weight = weight_expression(connection.dialect.name, at_ms)
    statement = (
        select(
            day,
            col(Vote.model),
            col(Vote.prompt_version),
            col(Vote.value),
            func.count(),
            func.coalesce(func.sum(weight), 0.0),
        )
        .where(*where.conditions(Vote), *where.day_conditions(Vote))
        .group_by(day, col(Vote.model), col(Vote.prompt_version), col(Vote.value))
    )
    return result_frame(connection, statement, VOTE_ROLLUP_COLUMNS)


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
    frame = rollup.assign(
        errors=rollup["turns"].where(rollup["status"] == STATUS_ERROR, 0),
        cancelled=rollup["turns"].where(rollup["status"] == STATUS_CANCELLED, 0),
    )
    frame = frame.groupby("model", sort=True)[["turns", "errors", "cancelled"]].sum().reset_index()
    frame["error_rate"] = frame["errors"] / frame["turns"]
    frame["cancel_rate"] = frame["cancelled"] / frame["turns"]
    return frame[columns]


def prompt_versions_from_rollups(turns: pd.DataFrame, votes: pd.DataFrame) -> pd.DataFrame:
    """Per prompt version: turns, error rate, tokens per turn, votes and trust with its interval."""
    turn_side = (
        turns.fillna({"prompt_version": NO_VERSION})
        .assign(errors=turns["turns"].where(turns["status"] == STATUS_ERROR, 0))
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
