"""The roll-ups answer as the raw rows do: on a random history written through both write paths (votes
changed and cleared, conversations deleted, turns merged from events in any order), for random filters
(ranges that start and end mid-hour, on the hour or at midnight, names, sessions, versions, stored
prompts), every sum equals the raw rows' sum, trust weights are exact, and percentiles are within the
histograms' stated bound."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select

from bilan_core.analytics.dashboard import load_dashboard
from bilan_core.analytics.filters import AnalyticsFilter, parse_prompt_ref
from bilan_core.analytics.rollups import turn_rollup, vote_rollup
from bilan_core.analytics.stats import TOP_FEEDBACK, VoteFilter, compute_stats
from bilan_core.analytics.trust import trust_figures, vote_weight
from bilan_core.clock import MS_PER_DAY, MS_PER_HOUR
from bilan_core.store.histograms import LOW_MS, MAX_RELATIVE_ERROR
from bilan_core.store.models import TURNS, VOTES
from tests.rollup_support import (
    AT_MS,
    MODELS,
    SERVER_PROJECT,
    SESSIONS,
    STORED_PROMPTS,
    USERS,
    VERSIONS,
    local_history,
    server_history,
)

FILTERS = 12
STORED = sorted({prompt for prompt in STORED_PROMPTS if prompt[0] is not None})


def raw(engine: Engine, table: Any, project_id: int) -> pd.DataFrame:
    with engine.connect() as connection:
        rows = connection.execute(select(table).where(table.c.project_id == project_id)).all()
    return pd.DataFrame(rows, columns=list(table.c.keys()))


def selected(frame: pd.DataFrame, where: AnalyticsFilter) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    if where.start_ms is not None:
        keep &= frame["created_ms"] >= where.start_ms
    if where.end_ms is not None:
        keep &= frame["created_ms"] < where.end_ms
    for column, names in (
        ("model", where.models),
        ("user_id", where.users),
        ("prompt_version", where.prompt_versions),
    ):
        if names:
            keep &= frame[column].isin(names)
    if where.team_session is not None:
        keep &= frame["team_session"] == where.team_session
    if where.prompts:
        refs = frame["prompt_name"].astype(str) + " v" + frame["prompt_number"].astype("Int64").astype(str)
        keep &= refs.isin(where.prompts)
    return frame.loc[keep].assign(day=lambda f: f["created_ms"] // MS_PER_DAY)


def random_filter(rng: random.Random, project_id: int) -> AnalyticsFilter:
    start = None if rng.random() < 0.15 else AT_MS - rng.randint(0, 70 * MS_PER_DAY)
    if start is not None and rng.random() < 0.4:
        start -= start % MS_PER_DAY  # midnight: read from the daily roll-ups
    elif start is not None and rng.random() < 0.4:
        start -= start % MS_PER_HOUR  # an hour: read from the hourly roll-ups
    end = (
        None
        if rng.random() < 0.2
        else (start or AT_MS - 70 * MS_PER_DAY) + rng.randint(3_600_000, 75 * MS_PER_DAY)
    )
    if end is not None and rng.random() < 0.4:
        end += MS_PER_DAY - end % MS_PER_DAY
    elif end is not None and rng.random() < 0.4:
        end += MS_PER_HOUR - end % MS_PER_HOUR
    return AnalyticsFilter(
        start_ms=start,
        end_ms=end,
        models=tuple(rng.sample(MODELS, rng.choice((0, 0, 1, 2)))),
        users=tuple(rng.sample(USERS, rng.choice((0, 0, 1, 3)))),
        team_session=rng.choice((None, None, None, *[s for s in SESSIONS if s])),
        prompt_versions=tuple(v for v in rng.sample(VERSIONS, rng.choice((0, 0, 1))) if v),
        prompts=tuple(f"{name} v{number}" for name, number in rng.sample(STORED, rng.choice((0, 0, 1, 2)))),
        project_id=project_id,
    )


def expected_turns(turns: pd.DataFrame) -> dict[tuple[Any, ...], tuple[int, ...]]:
    found: dict[tuple[Any, ...], list[int]] = {}
    for row in turns.itertuples():
        sums = found.setdefault((row.day, row.model, row.prompt_version), [0] * 5)
        tokens = (row.prompt_tokens, row.completion_tokens)
        outcome = (1, row.status == "error", row.status == "cancelled")
        for i, value in enumerate((*outcome, *(0 if pd.isna(t) else int(t) for t in tokens))):
            sums[i] += int(value)
    return {key: tuple(sums) for key, sums in found.items()}


def expected_votes(votes: pd.DataFrame, at_ms: int) -> dict[tuple[Any, ...], tuple[int, float]]:
    found: dict[tuple[Any, ...], list[float]] = {}
    for row in votes.itertuples():
        key = (row.day, row.model, row.prompt_version, row.user_id, 1 if row.value > 0 else -1)
        sums = found.setdefault(key, [0, 0.0])
        sums[0] += 1
        sums[1] += vote_weight((at_ms - row.created_ms) / MS_PER_DAY)
    return {key: (int(n), w) for key, (n, w) in found.items()}


def nearest_rank(values: pd.Series, share: float) -> float | None:
    ordered = np.sort(values.dropna().to_numpy())
    if not len(ordered):
        return None
    return float(ordered[max(1, math.ceil(share * len(ordered))) - 1])


def assert_within_bound(estimate: float | None, exact: float | None) -> None:
    if exact is None:
        assert estimate is None or pd.isna(estimate)
    elif exact < LOW_MS:
        assert abs(estimate - exact) <= LOW_MS / 2
    else:
        assert abs(estimate - exact) <= MAX_RELATIVE_ERROR * exact * (1 + 1e-9)


def nones(value: object) -> object:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


@pytest.mark.parametrize("project_id", [0, SERVER_PROJECT])
def test_roll_up_answers_equal_raw_answers_on_random_data(engine: Engine, project_id: int) -> None:
    rng = random.Random(1129 + project_id)
    if project_id == SERVER_PROJECT:
        server_history(engine, rng, turns=60)
    else:
        local_history(engine, rng, turns=60)
    turns, votes = raw(engine, TURNS, project_id), raw(engine, VOTES, project_id)
    for _ in range(FILTERS):
        where = random_filter(rng, project_id)
        at_ms = AT_MS + rng.choice((0, -rng.randint(0, 20 * MS_PER_DAY)))
        chosen_turns, chosen_votes = selected(turns, where), selected(votes, where)

        sums = turn_rollup(engine, where)
        got = {
            (row.day, row.model, nones(row.prompt_version)): (
                row.turns,
                row.errors,
                row.cancels,
                row.prompt_tokens,
                row.completion_tokens,
            )
            for row in sums.frame.itertuples()
        }
        assert got == {(d, m, nones(v)): s for (d, m, v), s in expected_turns(chosen_turns).items()}, where

        vote_sums = vote_rollup(engine, where, at_ms=at_ms)
        got_votes = {
            (row.day, nones(row.model), nones(row.prompt_version), row.user_id, row.value): (
                row.votes,
                row.weight,
            )
            for row in vote_sums.frame.itertuples()
        }
        wanted = {
            (d, nones(m), nones(v), u, s): value
            for (d, m, v, u, s), value in expected_votes(chosen_votes, at_ms).items()
        }
        assert got_votes.keys() == wanted.keys(), where
        for key, (count, weight) in wanted.items():
            assert got_votes[key][0] == count
            assert got_votes[key][1] == pytest.approx(weight, rel=1e-9, abs=1e-12), (where, at_ms, key)
        assert vote_sums.comments == int(chosen_votes["comment"].notna().sum())

        board = load_dashboard(engine, where, prices={}, at_ms=at_ms)
        assert board.headline.turns == len(chosen_turns)
        assert_within_bound(board.headline.median_latency_ms, nearest_rank(chosen_turns["latency_ms"], 0.5))
        for row in board.latency.itertuples():
            of_model = chosen_turns.loc[chosen_turns["model"] == row.model]
            for measure, column in (("latency", "latency_ms"), ("ttft", "ttft_ms")):
                for share in (0.5, 0.95):
                    estimate = nones(getattr(row, f"{measure}_p{round(share * 100)}"))
                    assert_within_bound(estimate, nearest_rank(of_model[column], share))


def one_of_each(where: AnalyticsFilter) -> tuple[VoteFilter, AnalyticsFilter]:
    """A ``get_stats`` filter (one name per kind) and the same selection as an ``AnalyticsFilter``."""
    narrowed = replace(
        where,
        models=where.models[:1],
        users=where.users[:1],
        prompt_versions=where.prompt_versions[:1],
        prompts=where.prompts[:1],
    )
    prompt = parse_prompt_ref(narrowed.prompts[0]) if narrowed.prompts else (None, None)
    stats_filter = VoteFilter(
        prompt_name=prompt[0],
        prompt_number=prompt[1],
        project_id=where.project_id,
        model=next(iter(narrowed.models), None),
        user_id=next(iter(narrowed.users), None),
        since=where.start_ms,
        until=where.end_ms,
        variant=next(iter(narrowed.prompt_versions), None),
        team_session=where.team_session,
    )
    return stats_filter, narrowed


def stats_from_rows(votes: pd.DataFrame, at_ms: int) -> dict[str, Any]:
    """What get_stats must answer, computed from the raw vote rows in Python."""
    ordered = votes.sort_values(["created_ms", "id"])
    positive = ordered["value"] > 0
    weights = [vote_weight((at_ms - created) / MS_PER_DAY) for created in ordered["created_ms"]]
    weight = pd.Series(weights, index=ordered.index, dtype="float64")
    total = len(ordered)
    trust = trust_figures(
        votes=total,
        positive=int(positive.sum()),
        weight=float(weight.sum()),
        positive_weight=float(weight[positive].sum()),
        first_half_positive=int(positive.iloc[: total // 2].sum()),
    )
    commented = votes.loc[votes["comment"].notna() & (votes["comment"] != "")]
    newest = commented.sort_values(["created_ms", "id"], ascending=False).head(TOP_FEEDBACK)
    return {
        "total_votes": total,
        "positive_votes": int(positive.sum()),
        "trust_score": trust.trust_score,
        "confidence_low": trust.low,
        "confidence_high": trust.high,
        "recent_trend": trust.trend,
        "top_feedback": list(newest["prompt_id"]),
    }


@pytest.mark.parametrize("project_id", [0, SERVER_PROJECT])
def test_get_stats_from_roll_ups_equals_the_raw_rows_on_random_data(engine: Engine, project_id: int) -> None:
    rng = random.Random(1213 + project_id)
    if project_id == SERVER_PROJECT:
        server_history(engine, rng, turns=60)
    else:
        local_history(engine, rng, turns=60)
    votes = raw(engine, VOTES, project_id)
    for _ in range(FILTERS):
        stats_filter, where = one_of_each(random_filter(rng, project_id))
        assert stats_filter.summed() == where  # read from the roll-ups
        at_ms = AT_MS + rng.choice((0, -rng.randint(0, 20 * MS_PER_DAY)))
        wanted = stats_from_rows(selected(votes, where), at_ms)
        got = compute_stats(engine, stats_filter, at_ms=at_ms)
        score = wanted.pop("trust_score")
        assert got.trust_score == (None if score is None else pytest.approx(score, rel=1e-9)), where
        assert {
            "total_votes": got.total_votes,
            "positive_votes": got.positive_votes,
            "confidence_low": got.confidence_low,
            "confidence_high": got.confidence_high,
            "recent_trend": got.recent_trend,
            "top_feedback": [one.prompt_id for one in got.top_feedback],
        } == wanted, where
