"""The analytics' sums for a filter, read from the roll-up tables instead of the raw turns and votes.

The days a filter's time range touches are read whole from ``turn_rollups`` / ``vote_rollups``; when the
range starts or ends inside a day, that day's rows outside the range (before the start, from the end) are
read through the daily covering indexes and taken out. So a view whose range is whole UTC days (the
Analytics page's presets) reads only roll-up rows, and any other range reads at most one extra day.

Trust weights stay exact: a roll-up row carries ``Σ 2^((created_ms − day start) / half-life)``, which
times ``2^−(age of the day start / half-life)`` is the day's weight; the days wholly in the future
weigh 1 a vote and those wholly past the 0.01 floor 0.01 a vote; the votes of the two days where those
rules change mid-day (now, and 46.5 days ago) are weighed one by one from their rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import pandas as pd
from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement
from sqlmodel import col

from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.analytics.frames import result_frame
from bilan_core.analytics.sql_parts import day_bucket
from bilan_core.analytics.trust import MIN_WEIGHT, TrustFigures, trust_figures, vote_weight
from bilan_core.clock import MS_PER_DAY
from bilan_core.store import histograms
from bilan_core.store.models import Turn, Vote
from bilan_core.store.rollup_tables import NONE_KEY, TURN_ROLLUPS, VOTE_ROLLUPS
from bilan_core.store.rollups import HALF_LIFE_MS, day_weight

TURN_SUMS = ["turns", "errors", "cancels", "prompt_tokens", "completion_tokens"]
TURN_FRAME = ["day", "model", "prompt_version", *TURN_SUMS]
VOTE_FRAME = ["day", "model", "prompt_version", "user_id", "value", "votes", "weight"]
FLOOR_AGE_MS = HALF_LIFE_MS * math.log2(1 / MIN_WEIGHT)  # from this age on a vote weighs MIN_WEIGHT


@dataclass(frozen=True)
class TurnSums:
    """Turns per day, model and prompt version, and latency / TTFT bucket counts per model."""

    frame: pd.DataFrame
    latency: dict[str, np.ndarray]
    ttft: dict[str, np.ndarray]


@dataclass(frozen=True)
class VoteSums:
    """Votes and their trust weights per day, model, prompt version, voter and value; the comment count."""

    frame: pd.DataFrame
    comments: int


def _day_range(where: AnalyticsFilter) -> tuple[int | None, int | None]:
    first = None if where.start_ms is None else where.start_ms // MS_PER_DAY
    last = None if where.end_ms is None else (where.end_ms - 1) // MS_PER_DAY
    return first, last


def _rollup_conditions(table: Table, where: AnalyticsFilter) -> list[ColumnElement[bool]]:
    columns = table.c
    found: list[ColumnElement[bool]] = [columns.project_id == where.project_id]
    first, last = _day_range(where)
    if first is not None:
        found.append(columns.day >= first)
    if last is not None:
        found.append(columns.day <= last)
    if where.models:
        found.append(columns.model.in_(where.models))
    if where.users:
        found.append(columns.user_id.in_(where.users))
    if where.team_session is not None:
        found.append(columns.team_session == where.team_session)
    if where.prompt_versions:
        found.append(columns.prompt_version.in_(where.prompt_versions))
    return found


def _outside(where: AnalyticsFilter) -> Iterator[AnalyticsFilter]:
    """The parts of the touched days outside the range, as filters of their own."""
    if where.start_ms is not None and where.start_ms % MS_PER_DAY:
        yield replace(where, start_ms=where.start_ms - where.start_ms % MS_PER_DAY, end_ms=where.start_ms)
    if where.end_ms is not None and where.end_ms % MS_PER_DAY:
        day_end = where.end_ms - where.end_ms % MS_PER_DAY + MS_PER_DAY
        yield replace(where, start_ms=where.end_ms, end_ms=day_end)


# --- turns ---------------------------------------------------------------------------------------------


def read_turn_sums(connection: Connection, where: AnalyticsFilter) -> TurnSums:
    """The turn-side sums of the filter: whole days from ``turn_rollups``, less the rows outside the range."""
    if where.prompts:  # stored prompt versions are not a roll-up key: their turns are read from the rows
        raw, latency, ttft = _raw_turns(connection, where)
        summed = raw.groupby(TURN_FRAME[:3], sort=False)[TURN_SUMS].sum().reset_index()
        return _turn_sums(summed, latency, ttft)
    table = TURN_ROLLUPS.c
    conditions = _rollup_conditions(TURN_ROLLUPS, where)
    keys = (table.day, table.model, table.prompt_version)
    statement = (
        select(*keys, *(func.sum(table[name]) for name in TURN_SUMS)).where(*conditions).group_by(*keys)
    )
    frame = result_frame(connection, statement, TURN_FRAME).astype({name: "int64" for name in TURN_SUMS})
    stored = connection.execute(
        select(table.model, table.latency_hist, table.ttft_hist).where(*conditions)
    ).all()
    latency = _dense_by_model((row[0], row[1]) for row in stored)
    ttft = _dense_by_model((row[0], row[2]) for row in stored)
    for part in _outside(where):
        frame = _take_out_turns(connection, part, frame, latency, ttft)
    return _turn_sums(frame, latency, ttft)


def _turn_sums(frame: pd.DataFrame, latency: dict[str, np.ndarray], ttft: dict[str, np.ndarray]) -> TurnSums:
    frame = frame.loc[frame["turns"] > 0].astype({name: "int64" for name in TURN_SUMS})
    frame["prompt_version"] = frame["prompt_version"].replace(NONE_KEY, None)
    return TurnSums(frame.sort_values(["day", "model"]).reset_index(drop=True), latency, ttft)


def _dense_by_model(rows: Iterator[tuple[str, bytes | None]]) -> dict[str, np.ndarray]:
    stored: dict[str, list[bytes | None]] = {}
    for model, histogram in rows:
        stored.setdefault(model, []).append(histogram)
    return {model: histograms.dense(found) for model, found in stored.items()}


def _take_out_turns(
    connection: Connection,
    part: AnalyticsFilter,
    frame: pd.DataFrame,
    latency: dict[str, np.ndarray],
    ttft: dict[str, np.ndarray],
) -> pd.DataFrame:
    raw, raw_latency, raw_ttft = _raw_turns(connection, part)
    for dense, taken in ((latency, raw_latency), (ttft, raw_ttft)):
        for model, counts in taken.items():
            dense[model] = dense.get(model, np.zeros(histograms.MAX_BUCKET + 1)) - counts
    return _minus(frame, raw, ["day", "model", "prompt_version"]) if not raw.empty else frame


def _raw_turns(
    connection: Connection, part: AnalyticsFilter
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The turns of ``part`` as frame rows, and their latency / TTFT bucket counts per model."""
    statement = select(
        day_bucket(Turn),
        col(Turn.model),
        func.coalesce(col(Turn.prompt_version), NONE_KEY),
        col(Turn.status),
        col(Turn.prompt_tokens),
        col(Turn.completion_tokens),
        col(Turn.latency_ms),
        col(Turn.ttft_ms),
    ).where(*part.conditions(Turn), *part.day_conditions(Turn))
    rows = connection.execute(statement).all()
    latency: dict[str, np.ndarray] = {}
    ttft: dict[str, np.ndarray] = {}
    for row in rows:
        for dense, value in ((latency, row[6]), (ttft, row[7])):
            if value is not None:
                counts = dense.setdefault(row[1], np.zeros(histograms.MAX_BUCKET + 1))
                counts[histograms.bucket_of(value)] += 1
    raw = pd.DataFrame(
        [(r[0], r[1], r[2], 1, r[3] == "error", r[3] == "cancelled", r[4] or 0, r[5] or 0) for r in rows],
        columns=TURN_FRAME,
    )
    return raw, latency, ttft


def _minus(frame: pd.DataFrame, taken: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    sums = [name for name in frame.columns if name not in keys]
    negative = taken.groupby(keys, sort=False)[sums].sum().mul(-1).reset_index()
    both = pd.concat([frame, negative], ignore_index=True)
    return both.groupby(keys, sort=False)[sums].sum().reset_index()


# --- votes ---------------------------------------------------------------------------------------------

_VOTE_KEYS = ["day", "model", "prompt_version", "user_id"]


def read_vote_sums(connection: Connection, where: AnalyticsFilter, at_ms: int) -> VoteSums:
    """The vote-side sums of the filter with trust weights at ``at_ms`` (exactly as the rows give them)."""
    if where.prompts:  # stored prompt versions are not a roll-up key: their votes are read from the rows
        raw, raw_comments = _raw_votes(connection, where, partial(_exact_weight, at_ms))
        return _vote_sums([raw], raw_comments)
    table = VOTE_ROLLUPS.c
    keys = [table[name] for name in _VOTE_KEYS]
    sums = ("up", "down", "comments", "up_weight", "down_weight")
    statement = (
        select(*keys, *(func.sum(table[name]) for name in sums))
        .where(*_rollup_conditions(VOTE_ROLLUPS, where))
        .group_by(*keys)
    )
    counts = {"up": "int64", "down": "int64", "comments": "int64"}
    stored = result_frame(connection, statement, [*_VOTE_KEYS, *sums]).astype(
        counts | {"up_weight": "float64", "down_weight": "float64"}
    )
    comments = int(stored["comments"].sum()) if not stored.empty else 0
    frame = _by_value(stored, at_ms)
    corrections = [_reweighed(connection, part, at_ms) for part in _reweigh_parts(where, at_ms)]
    for part in _outside(where):
        taken, taken_comments = _raw_votes(connection, part, partial(_exact_weight, at_ms))
        corrections.append(taken.assign(votes=-taken["votes"], weight=-taken["weight"]))
        comments -= taken_comments
    return _vote_sums([frame, *corrections], comments)


def _vote_sums(parts: list[pd.DataFrame], comments: int) -> VoteSums:
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    keys_and_value = [*_VOTE_KEYS, "value"]
    frame = frame.groupby(keys_and_value, sort=True)[["votes", "weight"]].sum().reset_index()
    frame = frame.loc[frame["votes"] > 0].astype({"votes": "int64", "day": "int64", "value": "int64"})
    for name in ("model", "prompt_version"):
        frame[name] = frame[name].replace(NONE_KEY, None)
    return VoteSums(frame[VOTE_FRAME].reset_index(drop=True), comments)


def _by_value(stored: pd.DataFrame, at_ms: int) -> pd.DataFrame:
    """One row per key and vote value, with the weights at ``at_ms`` from the per-day sums."""
    if stored.empty:
        return pd.DataFrame(columns=VOTE_FRAME)
    day_start = stored["day"].to_numpy(dtype="int64") * MS_PER_DAY
    future = day_start > at_ms
    floored = day_start + MS_PER_DAY - 1 <= at_ms - FLOOR_AGE_MS
    scale = np.exp2(-(at_ms - day_start) / HALF_LIFE_MS)
    sides = []
    for value, count, weights in ((1, "up", "up_weight"), (-1, "down", "down_weight")):
        votes = stored[count].to_numpy(dtype="float64")
        weight = np.where(future, votes, np.where(floored, MIN_WEIGHT * votes, stored[weights] * scale))
        sides.append(stored[_VOTE_KEYS].assign(value=value, votes=votes, weight=weight))
    return pd.concat(sides, ignore_index=True)


def _exact_weight(at_ms: int, created_ms: int) -> float:
    return vote_weight((at_ms - created_ms) / MS_PER_DAY)


def _weight_correction(at_ms: int, created_ms: int) -> float:
    # The exact weight less the per-day factor's (what the roll-up row gave this vote).
    day_start = created_ms - created_ms % MS_PER_DAY
    factored = day_weight(created_ms) * 2.0 ** (-(at_ms - day_start) / HALF_LIFE_MS)
    return _exact_weight(at_ms, created_ms) - factored


def _reweigh_parts(where: AnalyticsFilter, at_ms: int) -> Iterator[AnalyticsFilter]:
    """The votes the per-day factor weighs wrongly: later than ``at_ms``, or past the floor, on mixed days."""
    first, last = _day_range(where)

    def in_range(day: int) -> bool:
        return (first is None or day >= first) and (last is None or day <= last)

    now_day = at_ms // MS_PER_DAY
    if in_range(now_day):
        yield replace(where, start_ms=at_ms + 1, end_ms=(now_day + 1) * MS_PER_DAY)
    floor_ms = math.ceil(at_ms - FLOOR_AGE_MS)  # votes before it weigh MIN_WEIGHT
    floor_day = floor_ms // MS_PER_DAY
    mixed = (floor_day + 1) * MS_PER_DAY - 1 > at_ms - FLOOR_AGE_MS  # not a wholly floored day
    if in_range(floor_day) and floor_ms % MS_PER_DAY and mixed:
        yield replace(where, start_ms=floor_day * MS_PER_DAY, end_ms=floor_ms)


def _reweighed(connection: Connection, part: AnalyticsFilter, at_ms: int) -> pd.DataFrame:
    found, _ = _raw_votes(connection, part, partial(_weight_correction, at_ms))
    return found.assign(votes=0)


def _raw_votes(
    connection: Connection, part: AnalyticsFilter, weigh: Callable[[int], float]
) -> tuple[pd.DataFrame, int]:
    """The votes of ``part`` as frame rows weighed by ``weigh(created_ms)``, and how many carry a comment."""
    statement = select(
        day_bucket(Vote),
        func.coalesce(col(Vote.model), NONE_KEY),
        func.coalesce(col(Vote.prompt_version), NONE_KEY),
        col(Vote.user_id),
        col(Vote.value),
        col(Vote.created_ms),
        col(Vote.comment).is_not(None),
    ).where(*part.conditions(Vote), *part.day_conditions(Vote))
    rows = connection.execute(statement).all()
    frame = pd.DataFrame(
        [(r[0], r[1], r[2], r[3], 1 if r[4] > 0 else -1, 1, weigh(r[5])) for r in rows], columns=VOTE_FRAME
    )
    return frame, sum(1 for r in rows if r[6])


# --- trust totals --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteTotals:
    """The sums the trust figures are made of, over every vote of a filter."""

    votes: int
    positive: int
    weight: float
    positive_weight: float
    first_half_positive: int  # positive votes among the earliest ``votes // 2``

    def trust(self) -> TrustFigures:
        """Score, interval, positive rate and trend of these votes."""
        return trust_figures(
            votes=self.votes,
            positive=self.positive,
            weight=self.weight,
            positive_weight=self.positive_weight,
            first_half_positive=self.first_half_positive,
        )


def vote_totals(connection: Connection, where: AnalyticsFilter, sums: VoteSums) -> VoteTotals:
    """The trust sums of the filter's votes from their per-day sums (one day's rows read for the trend)."""
    votes = sums.frame
    if votes.empty:
        return VoteTotals(0, 0, 0.0, 0.0, 0)
    positive = votes["value"] > 0
    total = int(votes["votes"].sum())
    return VoteTotals(
        votes=total,
        positive=int(votes.loc[positive, "votes"].sum()),
        weight=float(votes["weight"].sum()),
        positive_weight=float(votes.loc[positive, "weight"].sum()),
        first_half_positive=_first_half_positive(connection, where, votes, total // 2),
    )


def _first_half_positive(
    connection: Connection, where: AnalyticsFilter, votes: pd.DataFrame, half: int
) -> int:
    # The earliest `half` votes: whole days from the per-day sums, then the first votes of the day
    # where the half ends, in (created_ms, id) order, as stats.compute_stats orders its rows.
    if half == 0:
        return 0
    daily = (
        votes.assign(positive=votes["votes"].where(votes["value"] > 0, 0))
        .groupby("day")[["votes", "positive"]]
        .sum()
    )
    before = daily["votes"].cumsum() - daily["votes"]
    boundary = int(daily.index[(before < half) & (before + daily["votes"] >= half)][0])
    taken = int(before.loc[boundary])
    earliest = (
        select(col(Vote.value).label("value"))
        .where(*where.conditions(Vote), day_bucket(Vote) == boundary)
        .order_by(col(Vote.created_ms), col(Vote.id))
        .limit(half - taken)
        .subquery()
    )
    in_boundary = connection.execute(select(func.count()).where(earliest.c.value > 0)).scalar_one()
    return int(daily.loc[daily.index < boundary, "positive"].sum()) + int(in_boundary)
