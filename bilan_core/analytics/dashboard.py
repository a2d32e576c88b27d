"""Trust analytics as pandas DataFrames, aggregated in SQL on SQLite and PostgreSQL.

Two daily roll-ups (turns and votes, grouped by day/model/prompt version/status or value) are read
in index order and every per-model, per-day and per-version figure is derived from them, so a page
needs only a handful of small queries even at millions of turns. Latency percentiles are exact
nearest-rank values found by walking an index ordered by the value (``LIMIT 1 OFFSET k``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, and_, case, func, literal_column, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement
from sqlmodel import col

from bilan_core.analytics.stats import _weight_expression
from bilan_core.analytics.trust import trend, weighted_share, wilson_interval
from bilan_core.clock import MS_PER_DAY, now_ms, to_ms
from bilan_core.pricing import Price, estimate_cost
from bilan_core.store.models import LOCAL_PROJECT, Turn, Vote

STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_CANCELLED = "cancelled"
LOW_VOTE_DAY = 5
COMMENTS_PAGE_SIZE = 20
NO_VERSION = "(none)"


@dataclass(frozen=True, kw_only=True)
class AnalyticsFilter:
    """Which turns and votes the analytics cover; empty tuples and None mean no restriction."""

    start_ms: int | None = None
    end_ms: int | None = None
    models: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    team_session: str | None = None
    prompt_versions: tuple[str, ...] = ()
    project_id: int = LOCAL_PROJECT

    def __post_init__(self) -> None:
        for name in ("start_ms", "end_ms"):
            value = getattr(self, name)
            if isinstance(value, datetime | float) or type(value) is int:
                object.__setattr__(self, name, to_ms(value))
            elif value is not None:
                raise ValueError(f"{name} must be epoch milliseconds or a datetime, got {value!r}")
        for name in ("models", "users", "prompt_versions"):
            object.__setattr__(self, name, _as_names(name, getattr(self, name)))
        if self.start_ms is not None and self.end_ms is not None and self.start_ms >= self.end_ms:
            raise ValueError(
                f"the time range is empty: start {self.start_ms} is not before end {self.end_ms}"
            )

    def previous(self) -> AnalyticsFilter | None:
        """The same filter over the period of the same length just before, or None if open-ended."""
        if self.start_ms is None or self.end_ms is None:
            return None
        length = self.end_ms - self.start_ms
        return replace(self, start_ms=self.start_ms - length, end_ms=self.start_ms)

    def conditions(self, table: type[Turn] | type[Vote]) -> list[ColumnElement[bool]]:
        """WHERE conditions on the turns or votes table (both carry the filtered columns)."""
        found: list[ColumnElement[bool]] = [col(table.project_id) == self.project_id]
        if self.start_ms is not None:
            found.append(col(table.created_ms) >= self.start_ms)
        if self.end_ms is not None:
            found.append(col(table.created_ms) < self.end_ms)
        if self.models:
            found.append(col(table.model).in_(self.models))
        if self.users:
            found.append(col(table.user_id).in_(self.users))
        if self.team_session is not None:
            found.append(col(table.team_session) == self.team_session)
        if self.prompt_versions:
            found.append(col(table.prompt_version).in_(self.prompt_versions))
        return found

    def day_conditions(self, table: type[Turn] | type[Vote]) -> list[ColumnElement[bool]]:
        """The time range restated on the day bucket, so the daily indexes can seek to it."""
        day = day_bucket(table)
        found: list[ColumnElement[bool]] = []
        if self.start_ms is not None:
            found.append(day >= self.start_ms // MS_PER_DAY)
        if self.end_ms is not None:
            found.append(day <= (self.end_ms - 1) // MS_PER_DAY)
        return found


def _as_names(name: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Iterable) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{name} must be a list of names, got {value!r}")
    return tuple(value)


def day_bucket(table: type[Turn] | type[Vote]) -> ColumnElement[int]:
    """The UTC day number of a row, spelled as in the daily indexes (``models.DAY_BUCKET_SQL``)."""
    return literal_column(f"({table.__tablename__}.created_ms / {MS_PER_DAY})")


def _day_dates(days: pd.Series) -> pd.Series:
    return pd.to_datetime(days.astype("int64") * MS_PER_DAY, unit="ms")


def _frame(connection: Connection, statement: Any, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(connection.execute(statement).all(), columns=columns)


# --- the two roll-ups -------------------------------------------------------------------------------

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
        return _turn_rollup(connection, where)


def _turn_rollup(connection: Connection, where: AnalyticsFilter) -> pd.DataFrame:
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
    return _frame(connection, statement, TURN_ROLLUP_COLUMNS)


def vote_rollup(engine: Engine, where: AnalyticsFilter, *, at_ms: int | None = None) -> pd.DataFrame:
    """Votes per day, model, prompt version and value, with their trust weights at ``at_ms``."""
    with engine.connect() as connection:
        return _vote_rollup(connection, where, now_ms() if at_ms is None else at_ms)


def _vote_rollup(connection: Connection, where: AnalyticsFilter, at_ms: int) -> pd.DataFrame:
    day = day_bucket(Vote)
    weight = _weight_expression(connection.dialect.name, at_ms)
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
    return _frame(connection, statement, VOTE_ROLLUP_COLUMNS)


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
    frame["date"] = _day_dates(frame["day"]) if not frame.empty else pd.Series(dtype="datetime64[ns]")
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
    frame["date"] = _day_dates(frame["day"]) if not frame.empty else pd.Series(dtype="datetime64[ns]")
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


# --- queries that are not roll-ups ------------------------------------------------------------------


def latency_percentiles(
    engine: Engine, where: AnalyticsFilter, *, rollup: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per model: p50 and p95 (nearest rank) of time to first token and of total latency, in ms."""
    with engine.connect() as connection:
        counts = _turn_rollup(connection, where) if rollup is None else rollup
        return _latency_percentiles(connection, where, counts)


def _latency_percentiles(
    connection: Connection, where: AnalyticsFilter, rollup: pd.DataFrame
) -> pd.DataFrame:
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
                "ttft_p50": _percentile(connection, scoped, Turn.ttft_ms, int(row["ttft_count"]), 0.50, True),
                "ttft_p95": _percentile(connection, scoped, Turn.ttft_ms, int(row["ttft_count"]), 0.95, True),
                "latency_p50": _percentile(
                    connection, scoped, Turn.latency_ms, int(row["latency_count"]), 0.50, True
                ),
                "latency_p95": _percentile(
                    connection, scoped, Turn.latency_ms, int(row["latency_count"]), 0.95, True
                ),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def median_latency(
    engine: Engine, where: AnalyticsFilter, *, rollup: pd.DataFrame | None = None
) -> float | None:
    """The nearest-rank median total latency (ms) of the turns ``where`` selects, or None."""
    with engine.connect() as connection:
        counts = _turn_rollup(connection, where) if rollup is None else rollup
        total = int(counts["latency_count"].sum()) if not counts.empty else 0
        return _percentile(connection, where, Turn.latency_ms, total, 0.50, False)


_PERCENTILE_INDEXES = {
    ("latency_ms", True): "ix_turns_model_latency",
    ("ttft_ms", True): "ix_turns_model_ttft",
}


def _percentile(
    connection: Connection, where: AnalyticsFilter, measure: Any, count: int, share: float, per_model: bool
) -> float | None:
    # Nearest rank: the k-th smallest value, k = ceil(share * count). The high ranks are reached
    # from the top so that a p95 walks 5% of the index, not 95%.
    if count <= 0:
        return None
    rank = max(1, math.ceil(share * count))
    ascending = rank <= count - rank + 1
    value = col(measure)
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


def votes_by_user(engine: Engine, where: AnalyticsFilter) -> pd.DataFrame:
    """Per user: votes, 👍, 👎 and positive rate, most active first."""
    positive = func.sum(case((col(Vote.value) > 0, 1), else_=0))
    statement = (
        select(col(Vote.user_id), func.count(), positive)
        .where(*where.conditions(Vote))
        .group_by(col(Vote.user_id))
        .with_hint(Vote, "INDEXED BY ix_votes_user", dialect_name="sqlite")
    )
    with engine.connect() as connection:
        frame = _frame(connection, statement, ["user_id", "votes", "positive"])
    frame = frame.astype({"votes": "int64", "positive": "int64"})
    frame["negative"] = frame["votes"] - frame["positive"]
    frame["positive_rate"] = frame["positive"] / frame["votes"]
    return frame.sort_values(["votes", "user_id"], ascending=[False, True]).reset_index(drop=True)


def _commented(where: AnalyticsFilter) -> list[ColumnElement[bool]]:
    # Comments are stored stripped and None when blank (votes.validate_comment), so NOT NULL suffices
    # and the partial index ix_votes_commented answers it.
    return [*where.conditions(Vote), col(Vote.comment).is_not(None)]


def comment_count(engine: Engine, where: AnalyticsFilter) -> int:
    """How many votes ``where`` selects carry a comment."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).where(*_commented(where))).scalar_one())


@dataclass(frozen=True)
class CommentsPage:
    """One page of comments, newest first, with the prompt and answer they are about."""

    rows: pd.DataFrame
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """How many pages the matching comments fill (at least 1)."""
        return max(1, math.ceil(self.total / self.page_size))


COMMENT_COLUMNS = [
    "created_ms",
    "user_id",
    "value",
    "comment",
    "model",
    "prompt_version",
    "prompt_id",
    "prompt_text",
    "response",
]


def comments_page(
    engine: Engine,
    where: AnalyticsFilter,
    *,
    search: str | None = None,
    sign: int | None = None,
    page: int = 1,
    page_size: int = COMMENTS_PAGE_SIZE,
) -> CommentsPage:
    """Comments matching the filter, a search text (case-insensitive) and a sign (1, -1 or None)."""
    if sign not in (None, 1, -1):
        raise ValueError(f"sign must be 1 (👍), -1 (👎) or None, got {sign!r}")
    if type(page) is not int or page < 1 or type(page_size) is not int or not 1 <= page_size <= 500:
        raise ValueError(f"page must be >= 1 and page_size between 1 and 500, got {page!r} and {page_size!r}")
    conditions = _commented(where)
    if search and search.strip():
        pattern = "%" + _escape_like(search.strip().lower()) + "%"
        conditions.append(func.lower(col(Vote.comment)).like(pattern, escape="\\"))
    if sign is not None:
        conditions.append(col(Vote.value) > 0 if sign > 0 else col(Vote.value) < 0)
    joined = Vote.__table__.outerjoin(
        Turn.__table__,
        and_(col(Turn.project_id) == col(Vote.project_id), col(Turn.prompt_id) == col(Vote.prompt_id)),
    )
    statement = (
        select(
            col(Vote.created_ms),
            col(Vote.user_id),
            col(Vote.value),
            col(Vote.comment),
            col(Vote.model),
            col(Vote.prompt_version),
            col(Vote.prompt_id),
            col(Turn.prompt_text),
            col(Turn.response),
        )
        .select_from(joined)
        .where(*conditions)
        .order_by(col(Vote.created_ms).desc(), col(Vote.id).desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    with engine.connect() as connection:
        rows = _frame(connection, statement, COMMENT_COLUMNS)
        total = int(connection.execute(select(func.count()).where(*conditions)).scalar_one())
    rows["created"] = pd.to_datetime(rows["created_ms"].astype("int64"), unit="ms")
    return CommentsPage(rows=rows, total=total, page=page, page_size=page_size)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def data_version(engine: Engine, *, project_id: int = LOCAL_PROJECT) -> tuple[int, ...]:
    """A cheap fingerprint that changes whenever a turn or vote is added, changed or removed."""
    statement = select(
        select(func.count()).where(col(Vote.project_id) == project_id).scalar_subquery(),
        select(func.max(col(Vote.id))).scalar_subquery(),
        select(func.max(col(Vote.updated_ms))).where(col(Vote.project_id) == project_id).scalar_subquery(),
        select(func.max(col(Turn.id))).scalar_subquery(),
    )
    with engine.connect() as connection:
        return tuple(int(value or 0) for value in connection.execute(statement).one())


# --- the headline -----------------------------------------------------------------------------------


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
    turns: pd.DataFrame,
    votes: pd.DataFrame,
    prices: Mapping[str, Price],
) -> Headline:
    total = int(votes["votes"].sum()) if not votes.empty else 0
    positive = int(votes.loc[votes["value"] > 0, "votes"].sum()) if not votes.empty else 0
    weight = float(votes["weight"].sum()) if not votes.empty else 0.0
    positive_weight = float(votes.loc[votes["value"] > 0, "weight"].sum()) if not votes.empty else 0.0
    low, high = wilson_interval(positive, total)
    tokens = tokens_from_rollup(turns, prices)
    priced = tokens["cost_usd"].notna()
    latency_count = int(turns["latency_count"].sum()) if not turns.empty else 0
    return Headline(
        trust_score=weighted_share(positive_weight, weight),
        trust_low=low,
        trust_high=high,
        trend=trend(total, _first_half_positive(connection, where, votes, total // 2), positive),
        votes=total,
        positive_votes=positive,
        positive_rate=positive / total if total else None,
        comments=int(connection.execute(select(func.count()).where(*_commented(where))).scalar_one()),
        turns=int(tokens["turns"].sum()),
        tokens=int(tokens["total_tokens"].sum()),
        cost_usd=float(tokens.loc[priced, "cost_usd"].sum()) if priced.any() else None,
        unpriced_models=tuple(sorted(set(tokens.loc[~priced, "model"]))),
        median_latency_ms=_percentile(connection, where, Turn.latency_ms, latency_count, 0.50, False),
    )


def _first_half_positive(
    connection: Connection, where: AnalyticsFilter, votes: pd.DataFrame, half: int
) -> int:
    # The earliest `half` votes: whole days from the roll-up, then the first votes of the day
    # where the half ends, in the same (created_ms, id) order that stats.compute_stats uses.
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


# --- everything the Analytics page shows, in one call ----------------------------------------------


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
        turns = _turn_rollup(connection, where)
        votes = _vote_rollup(connection, where, moment)
        headline = _headline(connection, where, turns, votes, prices)
        before = None
        if previous is not None:
            before = _headline(
                connection,
                previous,
                _turn_rollup(connection, previous),
                _vote_rollup(connection, previous, moment),
                prices,
            )
        latency = _latency_percentiles(connection, where, turns)
    return Dashboard(
        headline=headline,
        previous=before,
        trust_by_model=trust_from_rollup(votes),
        daily_trust=daily_trust_from_rollup(votes),
        tokens=tokens_from_rollup(turns, prices),
        latency=latency,
        error_rates=error_rates_from_rollup(turns),
        votes_by_user=votes_by_user(engine, where),
        prompt_versions=prompt_versions_from_rollups(turns, votes),
    )


def headline(
    engine: Engine, where: AnalyticsFilter, *, prices: Mapping[str, Price], at_ms: int | None = None
) -> Headline:
    """The headline figures (trust, votes, comments, turns, tokens, cost, median latency) of a period."""
    moment = now_ms() if at_ms is None else at_ms
    with engine.connect() as connection:
        turns = _turn_rollup(connection, where)
        votes = _vote_rollup(connection, where, moment)
        return _headline(connection, where, turns, votes, prices)


def filter_options(engine: Engine, *, project_id: int = LOCAL_PROJECT) -> dict[str, list[str]]:
    """The models, users, team sessions and prompt versions that occur, for the filter pickers."""
    with engine.connect() as connection:
        return {
            "models": _distinct(connection, "turns", "model", project_id),
            "users": sorted(
                set(_distinct(connection, "votes", "user_id", project_id))
                | set(_distinct(connection, "conversations", "user_id", project_id))
            ),
            "team_sessions": _distinct(connection, "turns", "team_session", project_id),
            "prompt_versions": _distinct(connection, "turns", "prompt_version", project_id),
        }


def _distinct(connection: Connection, table: str, column: str, project_id: int) -> list[str]:
    # A loose index scan: each step seeks the next value in an index led by (project_id, column),
    # so listing a handful of values costs a handful of seeks even over millions of rows.
    statement = text(
        f"""
        WITH RECURSIVE found(value) AS (
            SELECT MIN({column}) FROM {table} WHERE project_id = :project
            UNION ALL
            SELECT (SELECT MIN({column}) FROM {table} WHERE project_id = :project AND {column} > found.value)
            FROM found WHERE found.value IS NOT NULL
        )
        SELECT value FROM found WHERE value IS NOT NULL
        """
    )
    return [str(value) for value in connection.execute(statement, {"project": project_id}).scalars()]
