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
from bilan_core.analytics.sql_parts import day_bucket
from bilan_core.analytics.time_parts import Span, TimeParts, time_parts
from bilan_core.analytics.trust import MIN_WEIGHT, TrustFigures, trust_figures, vote_weight
from bilan_core.clock import MS_PER_DAY, MS_PER_HOUR
from bilan_core.store import histograms
from bilan_core.store.models import Turn, Vote
from bilan_core.store.rollup_tables import (
    DAILY,
    DAILY_BY_MODEL,
    HOURLY,
    HOURLY_BY_MODEL,
    NONE_KEY,
    RollupLevel,
)
from bilan_core.store.rollups import HALF_LIFE_MS

TURN_SUMS = ["turns", "errors", "cancels", "prompt_tokens", "completion_tokens"]
TURN_FRAME = ["day", "model", "prompt_version", *TURN_SUMS]
VOTE_FRAME = ["day", "model", "prompt_version", "user_id", "value", "votes", "weight"]
FLOOR_AGE_MS = HALF_LIFE_MS * math.log2(1 / MIN_WEIGHT)  # from this age on a vote weighs MIN_WEIGHT
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


_LISTED_BUCKETS = 1000  # a narrowed span of up to this many buckets is listed: a key seek per bucket


def _in_span(column: Any, span: Span, where: AnalyticsFilter) -> list[ColumnElement[bool]]:
    first, last = span
    narrowed = bool(where.users) or where.team_session is not None
    if narrowed and first is not None and last is not None and last - first < _LISTED_BUCKETS:
        # Listed, the buckets are equalities: the key's next column (the user, the team session) seeks.
        return [column.in_(list(range(first, last + 1)))]
    found: list[ColumnElement[bool]] = []
    if first is not None:
        found.append(column >= first)
    if last is not None:
        found.append(column <= last)
    return found


def _levels(where: AnalyticsFilter, *, voters: bool = False) -> tuple[RollupLevel, RollupLevel]:
    """The daily and hourly levels to read: summed over users unless the filter or the figure
    (``voters``) needs them apart."""
    if voters or where.users:
        return DAILY, HOURLY
    return DAILY_BY_MODEL, HOURLY_BY_MODEL


def _rollup_spans(
    parts: TimeParts, levels: tuple[RollupLevel, RollupLevel]
) -> Iterator[tuple[RollupLevel, Span]]:
    daily, hourly = levels
    yield from ((daily, span) for span in parts.days)
    yield from ((hourly, span) for span in parts.hours)


def _raw_filters(where: AnalyticsFilter, parts: TimeParts) -> Iterator[AnalyticsFilter]:
    yield from (replace(where, start_ms=start, end_ms=end) for start, end in parts.raw)


# --- turns ---------------------------------------------------------------------------------------------


def read_turn_sums(connection: Connection, where: AnalyticsFilter) -> TurnSums:
    """The turn-side sums of the filter: whole days and hours from the roll-ups, partial hours from rows."""
    parts = time_parts(where.start_ms, where.end_ms)
    rows: list[tuple[Any, ...]] = []
    stored_latency: dict[str, list[bytes | None]] = {}
    stored_ttft: dict[str, list[bytes | None]] = {}
    for level, span in _rollup_spans(parts, _levels(where)):
        for *sums, latency, ttft in _rolled_turns(connection, level, span, where):
            rows.append(tuple(sums))
            stored_latency.setdefault(sums[1], []).append(latency)
            stored_ttft.setdefault(sums[1], []).append(ttft)
    latency = {model: histograms.dense(found) for model, found in stored_latency.items()}
    ttft = {model: histograms.dense(found) for model, found in stored_ttft.items()}
    for part in _raw_filters(where, parts):
        rows.extend(_raw_turns(connection, part, latency, ttft))
    return TurnSums(_turn_frame(rows), latency, ttft)


def _rolled_turns(
    connection: Connection, level: RollupLevel, span: Span, where: AnalyticsFilter
) -> list[tuple[Any, ...]]:
    """The level's rows in the span: day, model, version, the sums, then the two histograms (one read)."""
    table = level.turns.c
    statement = select(
        table[level.bucket],
        table.model,
        table.prompt_version,
        *(table[name] for name in TURN_SUMS),
        table.latency_hist,
        table.ttft_hist,
    ).where(*_rollup_conditions(level.turns, where), *_in_span(table[level.bucket], span, where))
    per_day = MS_PER_DAY // level.bucket_ms
    return [(row[0] // per_day, *row[1:]) for row in connection.execute(statement).all()]


def _turn_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """One frame row per day, model and prompt version, from rows of sums that may repeat a key."""
    sums: dict[tuple[Any, ...], list[int]] = {}
    for day, model, version, *counts in rows:
        found = sums.setdefault((day, model, version), [0] * len(TURN_SUMS))
        for index, count in enumerate(counts):
            found[index] += int(count or 0)
    kept = sorted(
        (
            (day, model, version or None, *counts)
            for (day, model, version), counts in sums.items()
            if counts[0] > 0
        ),
        key=lambda row: (row[0], row[1]),
    )
    frame = pd.DataFrame.from_records(kept, columns=TURN_FRAME)
    return frame.astype({name: "int64" for name in ["day", *TURN_SUMS]})


def _raw_turns(
    connection: Connection, part: AnalyticsFilter, latency: dict[str, np.ndarray], ttft: dict[str, np.ndarray]
) -> list[tuple[Any, ...]]:
    """The turns of ``part`` as rows of sums; their latency / TTFT buckets go to the per-model counts."""
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
    return [(r[0], r[1], r[2], 1, r[3] == "error", r[3] == "cancelled", r[4] or 0, r[5] or 0) for r in rows]


# --- votes ---------------------------------------------------------------------------------------------


def _weight_cuts(at_ms: int) -> tuple[int, int]:
    """Where a vote's weight rule changes: before ``floor_ms`` it weighs the floor, from ``at_ms + 1`` one."""
    return math.ceil(at_ms - FLOOR_AGE_MS), at_ms + 1


def read_vote_sums(
    connection: Connection, where: AnalyticsFilter, at_ms: int, *, voters: bool = True
) -> VoteSums:
    """The vote-side sums of the filter with trust weights at ``at_ms`` (exactly as the rows give them);
    per voter, or with ``voters=False`` summed over voters (``user_id`` empty): ten times fewer rows."""
    floor_ms, _ = cuts = _weight_cuts(at_ms)
    parts = time_parts(where.start_ms, where.end_ms, cuts)
    rows: list[tuple[Any, ...]] = []
    comments = 0
    for level, span in _rollup_spans(parts, _levels(where, voters=voters)):
        comments += _rolled_votes(connection, level, span, where, voters, rows, (at_ms, floor_ms))
    for part in _raw_filters(where, parts):
        comments += _raw_votes(connection, part, at_ms, voters, rows)
    return VoteSums(_vote_frame(rows), comments)


def _rolled_votes(
    connection: Connection,
    level: RollupLevel,
    span: Span,
    where: AnalyticsFilter,
    voters: bool,
    rows: list[tuple[Any, ...]],
    moments: tuple[int, int],
) -> int:
    """Add the level's vote rows (one per key and value, weighed at now) to ``rows``; the comment count."""
    table = level.votes.c
    keys = [table[level.bucket], table.model, table.prompt_version, table.user_id if voters else None]
    statement = (
        select(*(key for key in keys if key is not None), *(func.sum(table[name]) for name in _VOTE_SUMS))
        .where(*_rollup_conditions(level.votes, where), *_in_span(table[level.bucket], span, where))
        .group_by(*(key for key in keys if key is not None))
    )
    comments = 0
    for row in connection.execute(statement).all():
        bucket, model, version = row[:3]
        user = row[3] if voters else NONE_KEY
        up, down, commented, up_weight, down_weight = row[-5:]
        comments += int(commented)
        start = int(bucket) * level.bucket_ms
        for value, count, weights in ((1, up, up_weight), (-1, down, down_weight)):
            if count:
                weight = _rolled_weight(int(count), float(weights), start, level.bucket_ms, moments)
                rows.append((start // MS_PER_DAY, model, version, user, value, int(count), weight))
    return comments


def _rolled_weight(count: int, weights: float, start: int, length: int, moments: tuple[int, int]) -> float:
    """The trust weight at ``at_ms`` of ``count`` votes in the bucket ``[start, start + length)``."""
    at_ms, floor_ms = moments
    if start > at_ms:
        return float(count)
    if start + length <= floor_ms:
        return MIN_WEIGHT * count
    day_start = start - start % MS_PER_DAY
    return weights * 2.0 ** (-(at_ms - day_start) / HALF_LIFE_MS)


def _vote_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """One frame row per day, model, prompt version, voter and value, from rows that may repeat a key."""
    sums: dict[tuple[Any, ...], list[float]] = {}
    for day, model, version, user, value, count, weight in rows:
        found = sums.setdefault((day, model, version, user, value), [0, 0.0])
        found[0] += count
        found[1] += weight
    kept = [
        (day, model or None, version or None, user, value, int(count), weight)
        for (day, model, version, user, value), (count, weight) in sorted(sums.items())
        if count > 0
    ]
    frame = pd.DataFrame.from_records(kept, columns=VOTE_FRAME)
    return frame.astype({"day": "int64", "value": "int64", "votes": "int64", "weight": "float64"})


def _raw_votes(
    connection: Connection, part: AnalyticsFilter, at_ms: int, voters: bool, rows: list[tuple[Any, ...]]
) -> int:
    """Add the votes of ``part`` to ``rows``, weighed exactly at ``at_ms``; how many carry a comment."""
    statement = select(
        day_bucket(Vote),
        func.coalesce(col(Vote.model), NONE_KEY),
        func.coalesce(col(Vote.prompt_version), NONE_KEY),
        col(Vote.user_id) if voters else literal_column(f"'{NONE_KEY}'"),
        col(Vote.value),
        col(Vote.created_ms),
        col(Vote.comment).is_not(None),
    ).where(*part.conditions(Vote), *part.day_conditions(Vote))
    found = connection.execute(statement).all()
    for r in found:
        weight = vote_weight((at_ms - r[5]) / MS_PER_DAY)
        rows.append((r[0], r[1], r[2], r[3], 1 if r[4] > 0 else -1, 1, weight))
    return sum(1 for r in found if r[6])


def read_voter_counts(connection: Connection, where: AnalyticsFilter) -> pd.DataFrame:
    """Votes and 👍 per voter (``user_id``, ``votes``, ``positive``), summed in SQL from the roll-ups."""
    parts = time_parts(where.start_ms, where.end_ms)
    found: list[tuple[str, int, int]] = []
    for level, span in _rollup_spans(parts, (DAILY, HOURLY)):
        table = level.votes.c
        statement = (
            select(table.user_id, func.sum(table.up + table.down), func.sum(table.up))
            .where(*_rollup_conditions(level.votes, where), *_in_span(table[level.bucket], span, where))
            .group_by(table.user_id)
        )
        found.extend(tuple(row) for row in connection.execute(statement).all())
    for part in _raw_filters(where, parts):
        statement = (
            select(col(Vote.user_id), func.count(), func.sum(case((col(Vote.value) > 0, 1), else_=0)))
            .where(*part.conditions(Vote), *part.day_conditions(Vote))
            .group_by(col(Vote.user_id))
        )
        found.extend(tuple(row) for row in connection.execute(statement).all())
    frame = pd.DataFrame(found, columns=["user_id", "votes", "positive"])
    summed = frame.groupby("user_id", sort=False)[["votes", "positive"]].sum().reset_index()
    return summed.loc[summed["votes"] > 0].astype({"votes": "int64", "positive": "int64"})


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
    _, hourly = _levels(where)
    table = hourly.votes.c
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
            .where(*_rollup_conditions(hourly.votes, where), *_in_span(table.hour, span, where))
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
