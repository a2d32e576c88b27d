"""The local backend's review session calls: straight to the database, as the server does."""

from __future__ import annotations

from sqlalchemy import Engine

from bilan_core.reviews import service
from bilan_core.reviews.sources import ReviewSource
from bilan_core.store import review_reads, reviews
from bilan_core.store.review_models import (
    NewReviewSession,
    RaterProgress,
    ReviewItemRow,
    ReviewItemView,
    ReviewRating,
    ReviewRatingRow,
    ReviewSessionInfo,
)
from bilan_core.store.review_ratings import rate_item


class LocalReviewCalls:
    """Review sessions in ``self.engine``, project ``self.project_id``."""

    engine: Engine
    project_id: int

    def create_review_session(self, *, new: NewReviewSession, source: ReviewSource) -> ReviewSessionInfo:
        """Find the source's items and store the session with them in SQL."""
        return service.create_session(self.engine, project_id=self.project_id, new=new, source=source)

    def get_review_session(self, *, session_id: str) -> ReviewSessionInfo:
        """One session from SQL."""
        return reviews.get_session(self.engine, project_id=self.project_id, session_id=session_id)

    def list_review_sessions(self, *, limit: int) -> list[ReviewSessionInfo]:
        """The newest sessions from SQL."""
        return reviews.list_sessions(self.engine, project_id=self.project_id, limit=limit)

    def join_review_session(self, *, session_id: str, rater: str) -> None:
        """Record the rater in SQL."""
        reviews.join_session(self.engine, project_id=self.project_id, session_id=session_id, rater=rater)

    def next_review_item(self, *, session_id: str, rater: str) -> ReviewItemView | None:
        """Hand out the next item in one SQL transaction."""
        return service.next_item(self.engine, project_id=self.project_id, session_id=session_id, rater=rater)

    def review_item(self, *, session_id: str, item_id: int, rater: str) -> ReviewItemView:
        """An item handed to the rater, from SQL."""
        return review_reads.item_view(
            self.engine, project_id=self.project_id, session_id=session_id, item_id=item_id, rater=rater
        )

    def rate_review_item(
        self,
        *,
        session_id: str,
        item_id: int,
        rater: str,
        vote: object,
        winner: object,
        scores: object,
        comment: object,
    ) -> ReviewRating:
        """Store the rating and its vote or verdict in one SQL transaction."""
        return rate_item(
            self.engine,
            project_id=self.project_id,
            session_id=session_id,
            item_id=item_id,
            rater=rater,
            vote=vote,
            winner=winner,
            scores=scores,
            comment=comment,
        )

    def skip_review_item(self, *, session_id: str, item_id: int, rater: str) -> None:
        """Mark the item skipped in SQL."""
        reviews.skip_item(
            self.engine, project_id=self.project_id, session_id=session_id, item_id=item_id, rater=rater
        )

    def review_progress(self, *, session_id: str) -> list[RaterProgress]:
        """Each rater's counts from SQL."""
        return review_reads.rater_progress(self.engine, project_id=self.project_id, session_id=session_id)

    def review_ratings(self, *, session_id: str) -> list[ReviewRatingRow]:
        """The complete ratings from SQL."""
        return review_reads.rating_rows(self.engine, project_id=self.project_id, session_id=session_id)

    def review_items(self, *, session_id: str) -> list[ReviewItemRow]:
        """The items from SQL."""
        return review_reads.item_rows(self.engine, project_id=self.project_id, session_id=session_id)

    def close_review_session(self, *, session_id: str) -> ReviewSessionInfo:
        """Close the session in SQL."""
        return reviews.close_session(self.engine, project_id=self.project_id, session_id=session_id)
