"""Everything the Analytics page shows for a filter, in one call: the headline and the figures.

The page's entry point: ``load_dashboard`` reads the two roll-ups per period (``rollups``) and derives
every figure from them; comments, filter options and the change marker come from their own modules
and are named here too, so the page and the server reach them in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from bilan_core.analytics.comments import (
    COMMENTS_PAGE_SIZE,
    CommentsPage,
    comment_count,
    comments_page,
    votes_by_user,
    votes_by_user_from_counts,
)
from bilan_core.analytics.data_version import data_version
from bilan_core.analytics.filters import AnalyticsFilter, filter_options
from bilan_core.analytics.percentiles import (
    latency_percentiles,
    overall_median_latency,
    per_model_percentiles,
)
from bilan_core.analytics.rollup_reads import (
    TurnSums,
    VoteSums,
    read_turn_sums,
    read_vote_sums,
    read_voter_counts,
    vote_totals,
)
from bilan_core.analytics.rollups import (
    LOW_VOTE_DAY,
    daily_trust_from_rollup,
    error_rates_from_rollup,
    prompt_versions_from_rollups,
    tokens_from_rollup,
    trust_from_rollup,
    turn_rollup,
    vote_rollup,
)
from bilan_core.clock import now_ms
from bilan_core.pricing import Price

__all__ = [
    "COMMENTS_PAGE_SIZE",
    "LOW_VOTE_DAY",
    "AnalyticsFilter",
    "CommentsPage",
    "Dashboard",
    "Headline",
    "comment_count",
    "comments_page",
    "data_version",
    "filter_options",
    "headline",
    "latency_percentiles",
    "load_dashboard",
    "turn_rollup",
    "vote_rollup",
    "votes_by_user",
]


@dataclass(frozen=True)
class Headline:
    """The headline figures of one period."""

    trust_score: float | None
    trust_low: float | None
    trust_high: float | None
    trend: str
    votes: int
    positive_votes: int
    positive_rate: float | None
    comments: int
    turns: int
    tokens: int
    cost_usd: float | None
    unpriced_models: tuple[str, ...]
    median_latency_ms: float | None


def _headline(
    connection: Connection,
    where: AnalyticsFilter,
    turn_sums: TurnSums,
    vote_sums: VoteSums,
    prices: Mapping[str, Price],
) -> Headline:
    totals = vote_totals(connection, where, vote_sums)
    trust = totals.trust()
    tokens = tokens_from_rollup(turn_sums.frame, prices)
    priced = tokens["cost_usd"].notna()
    return Headline(
        trust_score=trust.trust_score,
        trust_low=trust.low,
        trust_high=trust.high,
        trend=trust.trend,
        votes=totals.votes,
        positive_votes=totals.positive,
        positive_rate=trust.positive_rate,
        comments=vote_sums.comments,
        turns=int(tokens["turns"].sum()),
        tokens=int(tokens["total_tokens"].sum()),
        cost_usd=float(tokens.loc[priced, "cost_usd"].sum()) if priced.any() else None,
        unpriced_models=tuple(sorted(set(tokens.loc[~priced, "model"]))),
        median_latency_ms=overall_median_latency(turn_sums),
    )


@dataclass(frozen=True)
class Dashboard:
    """Every figure of the Analytics page for one filter."""

    headline: Headline
    previous: Headline | None
    trust_by_model: pd.DataFrame
    daily_trust: pd.DataFrame
    tokens: pd.DataFrame
    latency: pd.DataFrame
    error_rates: pd.DataFrame
    votes_by_user: pd.DataFrame
    prompt_versions: pd.DataFrame


def load_dashboard(
    engine: Engine, where: AnalyticsFilter, *, prices: Mapping[str, Price], at_ms: int | None = None
) -> Dashboard:
    """All the page's figures with the fewest queries: two roll-ups per period, then derivations."""
    moment = now_ms() if at_ms is None else at_ms
    previous = where.previous()
    with engine.connect() as connection:
        turns = read_turn_sums(connection, where)
        votes = read_vote_sums(connection, where, moment, voters=False)
        voters = read_voter_counts(connection, where)
        headline = _headline(connection, where, turns, votes, prices)
        before = None
        if previous is not None:
            before = _headline(
                connection,
                previous,
                read_turn_sums(connection, previous),
                read_vote_sums(connection, previous, moment, voters=False),
                prices,
            )
    return Dashboard(
        headline=headline,
        previous=before,
        trust_by_model=trust_from_rollup(votes.frame),
        daily_trust=daily_trust_from_rollup(votes.frame),
        tokens=tokens_from_rollup(turns.frame, prices),
        latency=per_model_percentiles(turns),
        error_rates=error_rates_from_rollup(turns.frame),
        votes_by_user=votes_by_user_from_counts(voters),
        prompt_versions=prompt_versions_from_rollups(turns.frame, votes.frame),
    )


def headline(
    engine: Engine, where: AnalyticsFilter, *, prices: Mapping[str, Price], at_ms: int | None = None
) -> Headline:
    """The headline figures (trust, votes, comments, turns, tokens, cost, median latency) of a period."""
    moment = now_ms() if at_ms is None else at_ms
    with engine.connect() as connection:
        turns = read_turn_sums(connection, where)
        votes = read_vote_sums(connection, where, moment, voters=False)
        return _headline(connection, where, turns, votes, prices)
