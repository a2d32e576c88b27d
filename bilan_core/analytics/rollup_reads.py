"""The analytics' sums for a filter, read from the roll-up tables instead of the raw turns and votes.

A filter's time range is cut (``time_parts``) into whole UTC days, read from ``turn_rollups`` /
``vote_rollups``, whole UTC hours, read from the ``*_hourly`` tables, and at most a partial hour at
each end, read from the rows through the daily covering indexes. The parts are added up. So a view
whose range is whole hours (every preset of the Analytics page) reads only roll-up rows, and the
cost of any view does not grow with the number of turns.

Trust weights stay exact: a roll-up row carries ``Σ 2^((created_ms − day start) / half-life)``, which
times ``2^−(age of the day start / half-life)`` is its votes' weight. Votes later than now weigh 1 and
votes past the 0.01 floor weigh 0.01, so the vote side's range is also cut at those two moments:
every roll-up row is then wholly in one regime, and the rows of the partial hours are weighed one by one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Table, and_, case, func, literal_column, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement
from sqlmodel import col

from bilan_core.analytics.filters import AnalyticsFilter, parse_prompt_ref
from bilan_core.analytics.frames import result_frame
from bilan_core.analytics.sql_parts import day_bucket
from bilan_core.analytics.time_parts import Span, TimeParts, time_parts
from bilan_core.analytics.trust import MIN_WEIGHT, TrustFigures, trust_figures, vote_weight
from bilan_core.clock import MS_PER_DAY, MS_PER_HOUR
from bilan_core.store import histograms
from bilan_core.store.models import Turn, Vote
from bilan_core.store.rollup_tables import DAILY, HOURLY, NONE_KEY, RollupLevel
from bilan_core.store.rollups import HALF_LIFE_MS

TURN_SUMS = ["turns", "errors", "cancels", "prompt_tokens", "completion_tokens"]
TURN_FRAME = ["day", "model", "prompt_version", *TURN_SUMS]
VOTE_FRAME = ["day", "model", "prompt_version", "user_id", "value", "votes", "weight"]
FLOOR_AGE_MS = HALF_LIFE_MS * math.log2(1 / MIN_WEIGHT)  # from this age on a vote weighs MIN_WEIGHT
_VOTE_KEYS = ["day", "model", "prompt_version", "user_id"]
_VOTE_SUMS = ["up", "down", "comments", "up_weight", "down_weight"]


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


def _rollup_conditions(table: Table, where: AnalyticsFilter) -> list[ColumnElement[bool]]:
    columns = table.c
    found: list[ColumnElement[bool]] = [columns.project_id == where.project_id]
    if where.models:
        found.append(columns.model.in_(where.models))
    if where.users:
        found.append(columns.user_id.in_(where.users))
    if where.team_session is not None:
        found.append(columns.team_session == where.team_session)
    if where.prompt_versions:
        found.append(columns.prompt_version.in_(where.prompt_versions))
    if where.prompts:
        pairs = map(parse_prompt_ref, where.prompts)
        found.append(
            or_(
                *(
                    and_(columns.prompt_name == name, columns.prompt_number == number)
                    for name, number in pairs
                )
            )
        )
    return found


def _in_span(column: Any, span: Span) -> list[ColumnElement[bool]]:
    first, last = span
    found: list[ColumnElement[bool]] = []
    if first is not None:
        found.append(column >= first)
    if last is not None:
        found.append(column <= last)
    return found


def _rollup_spans(parts: TimeParts) -> Iterator[tuple[RollupLevel, Span]]:
    yield from ((DAILY, span) for span in parts.days)
    yield from ((HOURLY, span) for span in parts.hours)


def _raw_filters(where: AnalyticsFilter, parts: TimeParts) -> Iterator[AnalyticsFilter]:
    yield from (replace(where, start_ms=start, end_ms=end) for start, end in parts.raw)


def _as_day(bucket: Any, level: RollupLevel) -> Any:
    return bucket if level is DAILY else bucket // (MS_PER_DAY // level.bucket_ms)


# --- turns ---------------------------------------------------------------------------------------------


def read_turn_sums(connection: Connection, where: AnalyticsFilter) -> TurnSums:
    """The turn-side sums of the filter: whole days and hours from the roll-ups, partial hours from rows."""
    parts = time_parts(where.start_ms, where.end_ms)
    frames: list[pd.DataFrame] = []
    stored_latency: dict[str, list[bytes | None]] = {}
    stored_ttft: dict[str, list[bytes | None]] = {}
    for level, span in _rollup_spans(parts):
        frame, histogram_rows = _rolled_turns(connection, level, span, where)
        frames.append(frame)
        for model, latency, ttft in histogram_rows:
            stored_latency.setdefault(model, []).append(latency)
            stored_ttft.setdefault(model, []).append(ttft)
    latency = {model: histograms.dense(found) for model, found in stored_latency.items()}
    ttft = {model: histograms.dense(found) for model, found in stored_ttft.items()}
    for part in _raw_filters(where, parts):
        frames.append(_raw_turns(connection, part, latency, ttft))
    return _turn_sums(frames, latency, ttft)


def _rolled_turns(
    connection: Connection, level: RollupLevel, span: Span, where: AnalyticsFilter
) -> tuple[pd.DataFrame, list[Any]]:
    table = level.turns.c
    conditions = [*_rollup_conditions(level.turns, where), *_in_span(table[level.bucket], span)]
    keys = (table[level.bucket], table.model, table.prompt_version)
    statement = (
        select(*keys, *(func.sum(table[name]) for name in TURN_SUMS)).where(*conditions).group_by(*keys)
    )
    frame = result_frame(connection, statement, TURN_FRAME)
    frame["day"] = _as_day(frame["day"], level)
    stored = connection.execute(select(table.model, table.latency_hist, table.ttft_hist).where(*conditions))
    return frame, list(stored)


def _turn_sums(
    frames: list[pd.DataFrame], latency: dict[str, np.ndarray], ttft: dict[str, np.ndarray]
) -> TurnSums:
    found = [frame for frame in frames if not frame.empty]
    if not found:
        frame = pd.DataFrame(columns=TURN_FRAME).astype({name: "int64" for name in ["day", *TURN_SUMS]})
    else:
        joined = pd.concat(found, ignore_index=True).astype({name: "int64" for name in ["day", *TURN_SUMS]})
        frame = joined.groupby(TURN_FRAME[:3], sort=False)[TURN_SUMS].sum().reset_index()
    frame = frame.loc[frame["turns"] > 0]
    frame["prompt_version"] = frame["prompt_version"].replace(NONE_KEY, None)
    return TurnSums(frame.sort_values(["day", "model"]).reset_index(drop=True), latency, ttft)


def _raw_turns(
    connection: Connection, part: AnalyticsFilter, latency: dict[str, np.ndarray], ttft: dict[str, np.ndarray]
) -> pd.DataFrame:
    """The turns of ``part`` as frame rows; their latency / TTFT buckets are added to the per-model counts."""
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
    for row in rows:
        for dense, value in ((latency, row[6]), (ttft, row[7])):
            if value is not None:
                counts = dense.setdefault(row[1], np.zeros(histograms.MAX_BUCKET + 1))
                counts[histograms.bucket_of(value)] += 1
    return pd.DataFrame(
        [(r[0], r[1], r[2], 1, r[3] == "error", r[3] == "cancelled", r[4] or 0, r[5] or 0) for r in rows],
        columns=TURN_FRAME,
    )


# --- votes ---------------------------------------------------------------------------------------------


def _weight_cuts(at_ms: int) -> tuple[int, int]:
    """Where a vote's weight rule changes: before ``floor_ms`` it weighs the floor, from ``at_ms + 1`` one."""
    return math.ceil(at_ms - FLOOR_AGE_MS), at_ms + 1


def read_vote_sums(connection: Connection, where: AnalyticsFilter, at_ms: int) -> VoteSums:
    """The vote-side sums of the filter with trust weights at ``at_ms`` (exactly as the rows give them)."""
    floor_ms, _ = cuts = _weight_cuts(at_ms)
    parts = time_parts(where.start_ms, where.end_ms, cuts)
    frames: list[pd.DataFrame] = []
    comments = 0
    for level, span in _rollup_spans(parts):
        stored = _rolled_votes(connection, level, span, where)
        comments += int(stored["comments"].sum())
        frames.append(_by_value(stored, level, at_ms, floor_ms))
    for part in _raw_filters(where, parts):
        frame, commented = _raw_votes(connection, part, at_ms)
        frames.append(frame)
        comments += commented
    return _vote_sums(frames, comments)


def _rolled_votes(
    connection: Connection, level: RollupLevel, span: Span, where: AnalyticsFilter
) -> pd.DataFrame:
    table = level.votes.c
    keys = [table[level.bucket], table.model, table.prompt_version, table.user_id]
    statement = (
        select(*keys, *(func.sum(table[name]) for name in _VOTE_SUMS))
        .where(*_rollup_conditions(level.votes, where), *_in_span(table[level.bucket], span))
        .group_by(*keys)
    )
    counts = {"up": "int64", "down": "int64", "comments": "int64"}
    return result_frame(connection, statement, ["bucket", *_VOTE_KEYS[1:], *_VOTE_SUMS]).astype(
        counts | {"bucket": "int64", "up_weight": "float64", "down_weight": "float64"}
    )


def _by_value(stored: pd.DataFrame, level: RollupLevel, at_ms: int, floor_ms: int) -> pd.DataFrame:
    """One row per key and vote value, with the weights at ``at_ms`` from the per-bucket sums."""
    if stored.empty:
        return pd.DataFrame(columns=VOTE_FRAME)
    bucket_start = stored["bucket"].to_numpy(dtype="int64") * level.bucket_ms
    day = bucket_start // MS_PER_DAY
    future = bucket_start > at_ms
    floored = bucket_start + level.bucket_ms <= floor_ms
    scale = np.exp2(-(at_ms - day * MS_PER_DAY) / HALF_LIFE_MS)
    keys = stored[_VOTE_KEYS[1:]].assign(day=day)[_VOTE_KEYS]
    sides = []
    for value, count, weights in ((1, "up", "up_weight"), (-1, "down", "down_weight")):
        votes = stored[count].to_numpy(dtype="float64")
        weight = np.where(future, votes, np.where(floored, MIN_WEIGHT * votes, stored[weights] * scale))
        sides.append(keys.assign(value=value, votes=votes, weight=weight))
    return pd.concat(sides, ignore_index=True)


def _vote_sums(parts: list[pd.DataFrame], comments: int) -> VoteSums:
    found = [frame for frame in parts if not frame.empty]
    if not found:
        return VoteSums(pd.DataFrame(columns=VOTE_FRAME), comments)
    frame = pd.concat(found, ignore_index=True) if len(found) > 1 else found[0]
    keys_and_value = [*_VOTE_KEYS, "value"]
    frame = frame.groupby(keys_and_value, sort=True)[["votes", "weight"]].sum().reset_index()
    frame = frame.loc[frame["votes"] > 0].astype({"votes": "int64", "day": "int64", "value": "int64"})
    for name in ("model", "prompt_version"):
        frame[name] = frame[name].replace(NONE_KEY, None)
    return VoteSums(frame[VOTE_FRAME].reset_index(drop=True), comments)


def _raw_votes(connection: Connection, part: AnalyticsFilter, at_ms: int) -> tuple[pd.DataFrame, int]:
    """The votes of ``part`` as frame rows weighed exactly at ``at_ms``, and how many carry a comment."""
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
        [
            (r[0], r[1], r[2], r[3], 1 if r[4] > 0 else -1, 1, vote_weight((at_ms - r[5]) / MS_PER_DAY))
            for r in rows
        ],
        columns=VOTE_FRAME,
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
    """The trust sums of the filter's votes from their per-day sums (one hour's rows read for the trend)."""
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


def _counts_before(sums: pd.DataFrame, half: int) -> tuple[int, int, int]:
    """The bucket where the earliest ``half`` votes end, and the votes and 👍 of the buckets before it."""
    before = sums["votes"].cumsum() - sums["votes"]
    boundary = int(sums.index[(before < half) & (before + sums["votes"] >= half)][0])
    return boundary, int(before.loc[boundary]), int(sums.loc[sums.index < boundary, "positive"].sum())


def _first_half_positive(
    connection: Connection, where: AnalyticsFilter, votes: pd.DataFrame, half: int
) -> int:
    # The earliest `half` votes, in (created_ms, id) order as stats.compute_stats orders its rows: whole
    # days from the per-day sums, then whole hours of the day where the half ends, then the first votes
    # of the hour where it ends.
    if half == 0:
        return 0
    daily = (
        votes.assign(positive=votes["votes"].where(votes["value"] > 0, 0))
        .groupby("day")[["votes", "positive"]]
        .sum()
    )
    day, taken, positive = _counts_before(daily, half)
    of_day = _within(where, day * MS_PER_DAY, (day + 1) * MS_PER_DAY)
    hour, hour_taken, hour_positive = _counts_before(_votes_by_hour(connection, of_day), half - taken)
    of_hour = _within(of_day, hour * MS_PER_HOUR, (hour + 1) * MS_PER_HOUR)
    earliest = (
        select(col(Vote.value).label("value"))
        .where(*of_hour.conditions(Vote), *of_hour.day_conditions(Vote))
        .order_by(col(Vote.created_ms), col(Vote.id))
        .limit(half - taken - hour_taken)
        .subquery()
    )
    in_hour = connection.execute(select(func.count()).where(earliest.c.value > 0)).scalar_one()
    return positive + hour_positive + int(in_hour)


def _within(where: AnalyticsFilter, start_ms: int, end_ms: int) -> AnalyticsFilter:
    start = start_ms if where.start_ms is None else max(where.start_ms, start_ms)
    end = end_ms if where.end_ms is None else min(where.end_ms, end_ms)
    return replace(where, start_ms=start, end_ms=end)


def _votes_by_hour(connection: Connection, where: AnalyticsFilter) -> pd.DataFrame:
    """Votes and 👍 per hour of the filter's range (at most a day): hourly roll-ups, then rows."""
    parts = time_parts(where.start_ms, where.end_ms)
    table = HOURLY.votes.c
    found: list[tuple[int, int, int]] = []
    per_day = MS_PER_DAY // MS_PER_HOUR
    day_hours = [  # the range is within one day: its day spans are never open
        (first * per_day, (last + 1) * per_day - 1)
        for first, last in parts.days
        if first is not None and last is not None
    ]
    for span in [*day_hours, *parts.hours]:
        statement = (
            select(table.hour, func.sum(table.up + table.down), func.sum(table.up))
            .where(*_rollup_conditions(HOURLY.votes, where), *_in_span(table.hour, span))
            .group_by(table.hour)
        )
        found.extend(tuple(row) for row in connection.execute(statement))
    hour: ColumnElement[int] = literal_column(f"(votes.created_ms / {MS_PER_HOUR})")
    for part in _raw_filters(where, parts):
        statement = (
            select(hour, func.count(), func.sum(case((col(Vote.value) > 0, 1), else_=0)))
            .where(*part.conditions(Vote), *part.day_conditions(Vote))
            .group_by(hour)
        )
        found.extend(tuple(row) for row in connection.execute(statement))
    frame = pd.DataFrame(found, columns=["hour", "votes", "positive"]).astype("int64")
    return frame.groupby("hour").sum().sort_index()
