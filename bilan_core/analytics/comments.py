"""Who voted and what they said: votes per user, the comment count and pages of comments."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, and_, func, select
from sqlalchemy.sql import ColumnElement
from sqlmodel import col

from bilan_core.analytics.filters import COMMENTS_PAGE_SIZE, AnalyticsFilter
from bilan_core.analytics.frames import result_frame
from bilan_core.analytics.rollup_reads import read_vote_sums, read_voter_counts
from bilan_core.analytics.sql_parts import shown_text
from bilan_core.clock import now_ms
from bilan_core.store.models import TURNS, VOTES, Turn, Vote


def votes_by_user(engine: Engine, where: AnalyticsFilter) -> pd.DataFrame:
    """Per user: votes, 👍, 👎 and positive rate, most active first (from the roll-ups)."""
    with engine.connect() as connection:
        return votes_by_user_from_counts(read_voter_counts(connection, where))


def votes_by_user_from_rollup(votes: pd.DataFrame) -> pd.DataFrame:
    """``votes_by_user`` from per-voter vote sums already read (``read_vote_sums``)."""
    positive = votes["votes"].where(votes["value"] > 0, 0)
    grouped = votes.assign(positive=positive).groupby("user_id", sort=False)[["votes", "positive"]].sum()
    return votes_by_user_from_counts(grouped.reset_index())


def votes_by_user_from_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """``votes_by_user`` from votes and 👍 per user (``read_voter_counts``)."""
    found = counts[["user_id", "votes", "positive"]]
    found = found.astype({"votes": "int64", "positive": "int64"})
    found["negative"] = found["votes"] - found["positive"]
    found["positive_rate"] = found["positive"] / found["votes"]
    return found.sort_values(["votes", "user_id"], ascending=[False, True]).reset_index(drop=True)


def commented(where: AnalyticsFilter) -> list[ColumnElement[bool]]:
    """The conditions selecting the votes ``where`` covers that carry a comment."""
    # Comments are stored stripped and None when blank (votes.validate_comment), so NOT NULL suffices
    # and the partial index ix_votes_commented answers it.
    return [*where.conditions(Vote), col(Vote.comment).is_not(None)]


def comment_count(engine: Engine, where: AnalyticsFilter) -> int:
    """How many votes ``where`` selects carry a comment (from the roll-ups)."""
    with engine.connect() as connection:
        return read_vote_sums(connection, where, now_ms(), voters=False).comments


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
    "team_session",
    "conversation_id",
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
    conditions = commented(where)
    if search and search.strip():
        pattern = "%" + _escape_like(search.strip().lower()) + "%"
        conditions.append(func.lower(col(Vote.comment)).like(pattern, escape="\\"))
    if sign is not None:
        conditions.append(col(Vote.value) > 0 if sign > 0 else col(Vote.value) < 0)
    joined = VOTES.outerjoin(
        TURNS,
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
            col(Vote.team_session),
            col(Turn.conversation_id),
            shown_text(col(Turn.prompt_text)),
            shown_text(col(Turn.response)),
        )
        .select_from(joined)
        .where(*conditions)
        .order_by(col(Vote.created_ms).desc(), col(Vote.id).desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    with engine.connect() as connection:
        rows = result_frame(connection, statement, COMMENT_COLUMNS)
        if sign is None and not (search and search.strip()):  # every comment of the filter: rolled up
            total = read_vote_sums(connection, where, now_ms(), voters=False).comments
        else:
            total = int(connection.execute(select(func.count()).where(*conditions)).scalar_one())
    rows["created"] = pd.to_datetime(rows["created_ms"].astype("int64"), unit="ms")
    return CommentsPage(rows=rows, total=total, page=page, page_size=page_size)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
