"""Server mode's review sessions: direct requests to a Bilan server, in the key's project.

Making a session, handing out and rating read what recorded turns and votes changed, so they flush
the outbox first (a session made right after a chat finds its turns).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import TypeAdapter

from bilan_core.remote.connection import ServerConnection, parse, parse_list
from bilan_core.store.review_models import (
    NewReviewSession,
    RaterProgress,
    ReviewItemRow,
    ReviewItemView,
    ReviewRating,
    ReviewRatingRow,
    ReviewSessionInfo,
)

if TYPE_CHECKING:
    from bilan_core.reviews.sources import ReviewSource

SESSIONS = TypeAdapter(list[ReviewSessionInfo])
PROGRESS = TypeAdapter(list[RaterProgress])
RATINGS = TypeAdapter(list[ReviewRatingRow])
ITEMS = TypeAdapter(list[ReviewItemRow])
MAYBE_VIEW = TypeAdapter(ReviewItemView | None)


def _session_path(session_id: str, *rest: str) -> str:
    return "/".join(("/api/review-sessions", quote(session_id, safe=""), *rest))


class ServerReviewCalls(ServerConnection):
    """The review session calls of the ``Backend`` protocol, over HTTP."""

    def create_review_session(self, *, new: NewReviewSession, source: ReviewSource) -> ReviewSessionInfo:
        """Make the session on the server (after a flush, so turns just recorded are there)."""
        body = {"session": new.model_dump(mode="json"), "source": source.model_dump(mode="json")}
        return parse(ReviewSessionInfo, self._read("POST", "/api/review-sessions", json=body))

    def get_review_session(self, *, session_id: str) -> ReviewSessionInfo:
        """One session from the server."""
        return parse(ReviewSessionInfo, self._get(_session_path(session_id), {}))

    def list_review_sessions(self, *, limit: int) -> list[ReviewSessionInfo]:
        """The newest sessions from the server."""
        return parse_list(SESSIONS, self._get("/api/review-sessions", {"limit": limit}))

    def join_review_session(self, *, session_id: str, rater: str) -> None:
        """Record the rater on the server."""
        self._request("POST", _session_path(session_id, "join"), json={"rater": rater})

    def next_review_item(self, *, session_id: str, rater: str) -> ReviewItemView | None:
        """The rater's next item from the server; None when nothing is left."""
        reply = self._read("POST", _session_path(session_id, "next"), json={"rater": rater})
        return MAYBE_VIEW.validate_json(reply.content)

    def review_item(self, *, session_id: str, item_id: int, rater: str) -> ReviewItemView:
        """An item handed to the rater, from the server."""
        reply = self._get(_session_path(session_id, "items", str(item_id)), {"rater": rater})
        return parse(ReviewItemView, reply)

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
        """Store the rating on the server."""
        body = {"rater": rater, "vote": vote, "winner": winner, "scores": scores, "comment": comment}
        path = _session_path(session_id, "items", str(item_id), "rating")
        return parse(ReviewRating, self._read("POST", path, json=body))

    def skip_review_item(self, *, session_id: str, item_id: int, rater: str) -> None:
        """Mark the item skipped on the server."""
        self._request("POST", _session_path(session_id, "items", str(item_id), "skip"), json={"rater": rater})

    def review_progress(self, *, session_id: str) -> list[RaterProgress]:
        """Each rater's counts from the server."""
        return parse_list(PROGRESS, self._get(_session_path(session_id, "progress"), {}))

    def review_ratings(self, *, session_id: str) -> list[ReviewRatingRow]:
        """The complete ratings from the server."""
        return parse_list(RATINGS, self._get(_session_path(session_id, "ratings"), {}))

    def review_items(self, *, session_id: str) -> list[ReviewItemRow]:
        """The items from the server."""
        return parse_list(ITEMS, self._get(_session_path(session_id, "items"), {}))

    def close_review_session(self, *, session_id: str) -> ReviewSessionInfo:
        """Close the session on the server."""
        return parse(ReviewSessionInfo, self._request("POST", _session_path(session_id, "close")))
