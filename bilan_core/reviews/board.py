"""A review session's live board: progress per rater and overall, results per model or variant, the items
raters disagree on most with their comments, the newest comments, and agreement so far.

Built from the session's progress, ratings and items (what ``ReviewSession`` reads in either mode), with
the report's rules for results and disputes (``reviews.report``), so the board and the report agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from bilan_core.analytics.agreement import Agreement, rating_agreement
from bilan_core.analytics.bradley_terry import Leaderboard
from bilan_core.reviews.report import disputed_items, pairwise_leaderboard, trust_by_label, value_words
from bilan_core.store.review_models import RaterProgress, ReviewSessionInfo

DISPUTED_SHOWN = 5
COMMENTS_SHOWN = 10
# The board redraws every few seconds: a shorter bootstrap than the report's keeps it fast.
BOARD_BOOTSTRAP_ROUNDS = 200
COMMENT_COLUMNS = ["rated_at", "item_id", "position", "rater", "rating", "comment"]
PROGRESS_COLUMNS = ["rater", "rated", "skipped", "drafts", "remaining", "done"]


@dataclass(frozen=True)
class OverallProgress:
    """Everyone's progress: items covered by enough raters, ratings against the ratings wanted."""

    items: int
    rated_items: int
    covered_items: int
    ratings: int
    wanted_ratings: int
    raters: int
    skipped: int
    drafts: int

    @property
    def done(self) -> float:
        """The share of wanted ratings given (0 to 1; 0 when no rating is wanted yet)."""
        if self.wanted_ratings <= 0:
            return 0.0
        return min(1.0, self.ratings / self.wanted_ratings)


@dataclass(frozen=True)
class ReviewBoard:
    """Everything the facilitator's board shows, as of one read."""

    session: ReviewSessionInfo
    overall: OverallProgress
    raters: pd.DataFrame
    results: pd.DataFrame
    leaderboard: Leaderboard | None
    disputed: pd.DataFrame
    disputed_comments: pd.DataFrame
    comments: pd.DataFrame
    agreement: Agreement


def build_board(
    session: ReviewSessionInfo,
    progress: Sequence[RaterProgress],
    ratings: pd.DataFrame,
    items: pd.DataFrame,
    *,
    disputed: int = DISPUTED_SHOWN,
    comments: int = COMMENTS_SHOWN,
) -> ReviewBoard:
    """The board of ``session`` from its raters' progress, its ratings and its items."""
    measure = "winner" if session.pairwise else "vote"
    board = pairwise_leaderboard(ratings) if session.pairwise else None
    split = disputed_items(ratings, items, measure, limit=disputed)
    return ReviewBoard(
        session=session,
        overall=overall_progress(session, progress, items),
        raters=rater_table(progress),
        results=board.ratings if board is not None else trust_by_label(ratings, session.criteria),
        leaderboard=board,
        disputed=split,
        disputed_comments=_comments(ratings[ratings["item_id"].isin(split["item_id"])], measure),
        comments=newest_comments(ratings, measure, limit=comments),
        agreement=rating_agreement(ratings, criteria=session.criteria, rounds=BOARD_BOOTSTRAP_ROUNDS),
    )


def ratings_wanted_per_item(session: ReviewSessionInfo, raters: int) -> int:
    """How many ratings each item should get: k (never more than the raters once someone joined), or every
    rater when k is unset."""
    if session.raters_per_item is None:
        return raters
    return min(session.raters_per_item, raters) if raters else session.raters_per_item


def overall_progress(
    session: ReviewSessionInfo, progress: Sequence[RaterProgress], items: pd.DataFrame
) -> OverallProgress:
    """Items rated and covered, ratings given against ratings wanted, skips and drafts, for everyone."""
    per_item = ratings_wanted_per_item(session, len(progress))
    counts = items["ratings"].astype(int)
    return OverallProgress(
        items=len(items),
        rated_items=int((counts > 0).sum()),
        covered_items=int((counts >= per_item).sum()) if per_item > 0 else 0,
        ratings=int(counts.sum()),
        wanted_ratings=per_item * len(items),
        raters=len(progress),
        skipped=sum(one.skipped for one in progress),
        drafts=sum(one.drafts for one in progress),
    )


def rater_table(progress: Sequence[RaterProgress]) -> pd.DataFrame:
    """One row per rater: rated, skipped, drafts, remaining and the share of their queue done."""
    table = pd.DataFrame([one.model_dump() for one in progress], columns=PROGRESS_COLUMNS[:-1])
    queue = (table["rated"] + table["remaining"]).astype(float)
    table["done"] = (table["rated"] / queue.where(queue > 0)).fillna(0.0)
    return table.sort_values(["done", "rater"], ascending=[False, True], ignore_index=True)


def newest_comments(ratings: pd.DataFrame, measure: str, *, limit: int = COMMENTS_SHOWN) -> pd.DataFrame:
    """The latest ``limit`` ratings with a comment, newest first, with their rating in words."""
    commented = ratings[ratings["comment"].fillna("").astype(str).str.strip() != ""]
    latest = commented.sort_values(["rated_at", "item_id"], ascending=False).head(limit)
    return _comments(latest, measure)


def _comments(ratings: pd.DataFrame, measure: str) -> pd.DataFrame:
    words = ratings[measure].map(lambda value: value_words(value, measure), na_action="ignore")
    table = ratings.assign(rating=words.fillna(""))
    return table.reindex(columns=COMMENT_COLUMNS).reset_index(drop=True)
