"""A review session's operations on one database and project: what local mode and the server both run."""

from __future__ import annotations

from sqlalchemy import Engine

from bilan_core.reviews.sources import ReviewSource, source_items
from bilan_core.store import review_ratings, reviews
from bilan_core.store.review_models import NewReviewSession, ReviewItemView, ReviewRating, ReviewSessionInfo
from bilan_core.store.review_reads import item_view
from bilan_core.store.review_rubric import check_rating


def create_session(
    engine: Engine, *, project_id: int, new: NewReviewSession, source: ReviewSource
) -> ReviewSessionInfo:
    """Find the source's items, then store the session with them (nothing when either is refused)."""
    if new.pairwise != source.pairwise:
        raise ValueError("the session and its source disagree on pairwise")
    items = source_items(engine, project_id=project_id, source=source)
    return reviews.create_session(engine, project_id=project_id, new=new, items=items)


def next_item(engine: Engine, *, project_id: int, session_id: str, rater: str) -> ReviewItemView | None:
    """Hand the rater their next item (or their open one) and show it; None when nothing is left."""
    item_id = reviews.hand_out(engine, project_id=project_id, session_id=session_id, rater=rater)
    if item_id is None:
        return None
    return item_view(engine, project_id=project_id, session_id=session_id, item_id=item_id, rater=rater)


def rate(
    engine: Engine,
    *,
    project_id: int,
    session_id: str,
    item_id: int,
    rater: str,
    vote: object = None,
    winner: object = None,
    scores: object = None,
    comment: object = None,
) -> ReviewRating:
    """Check a rating against the session's rubric, then store it with its vote or verdict."""
    session = reviews.get_session(engine, project_id=project_id, session_id=session_id)
    rating = check_rating(session, vote=vote, winner=winner, scores=scores, comment=comment)
    return review_ratings.rate_item(
        engine, project_id=project_id, session=session, item_id=item_id, rater=rater, rating=rating
    )
