"""A review session's operations on one database and project: what local mode and the server both run."""

from __future__ import annotations

from sqlalchemy import Engine

from bilan_core.reviews.sources import ReviewSource, source_items
from bilan_core.store import reviews
from bilan_core.store.review_handout import hand_out
from bilan_core.store.review_models import NewReviewSession, ReviewItemView, ReviewSessionInfo
from bilan_core.store.review_reads import item_view


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
    item_id = hand_out(engine, project_id=project_id, session_id=session_id, rater=rater)
    if item_id is None:
        return None
    return item_view(engine, project_id=project_id, session_id=session_id, item_id=item_id, rater=rater)
