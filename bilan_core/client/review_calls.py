"""Team review sessions from the client, in either mode: ``ReviewCalls`` (mixed into ``Bilan``) and the
``ReviewSession`` handle a facilitator and the raters use.

Rater names are user ids: stored as given, or as a keyed hash at the ``none`` capture level, like
votes; comments go through the client's capture policy like vote comments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.client.backend import Backend
from bilan_core.limits import check_label
from bilan_core.privacy.capture import CapturePolicy
from bilan_core.reviews.sources import ReviewSource, filter_fields
from bilan_core.store.review_models import (
    NewReviewSession,
    RaterProgress,
    ReviewItemView,
    ReviewRating,
    ReviewSessionInfo,
)

if TYPE_CHECKING:
    import pandas as pd

    from bilan_core.reviews.board import ReviewBoard
    from bilan_core.reviews.report import ReviewReport

MAX_SESSIONS_LISTED = 1000


class ReviewCalls:
    """Creating, finding and listing review sessions through ``self.backend``."""

    backend: Backend
    user_id: str
    capture: CapturePolicy

    def create_review_session(
        self,
        name: str,
        *,
        prompt_ids: Sequence[str] | None = None,
        run_id: str | None = None,
        filter: AnalyticsFilter | None = None,
        feedback: Iterable[str] = (),
        sample: int | None = None,
        seed: int = 0,
        pairwise: bool = False,
        criteria: Iterable[str] = (),
        raters_per_item: int | None = None,
        blind: bool = True,
        instructions: str | None = None,
    ) -> ReviewSession:
        """Make a review session of recorded answers (prompt ids, a filter, or an experiment run)."""
        if filter is not None and not isinstance(filter, AnalyticsFilter):
            raise ValueError(f"filter must be an AnalyticsFilter, got {type(filter).__name__}")
        if isinstance(prompt_ids, str):
            raise ValueError("prompt_ids must be a list of prompt ids, not one text")
        for flag, value in (("pairwise", pairwise), ("blind", blind)):
            if not isinstance(value, bool):
                raise ValueError(f"{flag} must be True or False, got {value!r}")
        source = ReviewSource(
            prompt_ids=None if prompt_ids is None else tuple(prompt_ids),
            run_id=run_id,
            filter=None if filter is None else filter_fields(filter),
            feedback=tuple(feedback),
            sample=sample,
            seed=seed,
            pairwise=pairwise,
        )
        new = NewReviewSession(
            name=name,
            pairwise=pairwise,
            criteria=tuple(criteria),
            raters_per_item=raters_per_item,
            blind=blind,
            instructions=self.capture.text(instructions) if isinstance(instructions, str) else instructions,
            source=source.model_dump(mode="json"),
            created_by=self.capture.user(self.user_id),
        )
        return ReviewSession(self, self.backend.create_review_session(new=new, source=source))

    def get_review_session(self, session_id: str) -> ReviewSession:
        """A stored review session; ReviewSessionNotFoundError if there is none with this id."""
        info = self.backend.get_review_session(session_id=check_label("session_id", session_id))
        return ReviewSession(self, info)

    def list_review_sessions(self, *, limit: int = 50) -> list[ReviewSessionInfo]:
        """The review sessions, newest first (at most ``limit``, 1 to 1000)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_SESSIONS_LISTED:
            raise ValueError(f"limit must be a whole number from 1 to {MAX_SESSIONS_LISTED}, got {limit!r}")
        return self.backend.list_review_sessions(limit=limit)


class ReviewSession:
    """One review session: raters join, get items one at a time and rate them; the facilitator reads
    progress, ratings and items, and closes it."""

    def __init__(self, client: ReviewCalls, info: ReviewSessionInfo) -> None:
        self._client = client
        self.info = info

    def __repr__(self) -> str:
        return f"ReviewSession(id={self.id!r}, name={self.name!r}, status={self.status!r})"

    @property
    def id(self) -> str:
        """The session's id (``?review=<id>`` on the rater's page)."""
        return self.info.id

    @property
    def name(self) -> str:
        """The session's name (also the team session of the votes its ratings cast)."""
        return self.info.name

    @property
    def status(self) -> str:
        """``open`` or ``closed``, as of the last read (``refresh()`` reads it again)."""
        return self.info.status

    @property
    def pairwise(self) -> bool:
        """True when each item is two answers and the rating a verdict."""
        return self.info.pairwise

    @property
    def criteria(self) -> tuple[str, ...]:
        """The named criteria scored 1 to 5, besides the vote or verdict."""
        return self.info.criteria

    @property
    def raters_per_item(self) -> int | None:
        """How many raters each item goes to (None: every rater gets every item)."""
        return self.info.raters_per_item

    @property
    def blind(self) -> bool:
        """True when raters see no model, variant or prompt version until the session closes."""
        return self.info.blind

    @property
    def instructions(self) -> str | None:
        """What the facilitator asks of the raters."""
        return self.info.instructions

    @property
    def item_count(self) -> int:
        """How many items the session holds."""
        return self.info.item_count

    def refresh(self) -> ReviewSession:
        """Read the session again (its status may have changed); returns itself."""
        self.info = self._client.backend.get_review_session(session_id=self.id)
        return self

    def _rater(self, rater: str) -> str:
        return self._client.capture.user(check_label("rater", rater))

    def join(self, rater: str) -> None:
        """Add a rater to the open session (joining again changes nothing)."""
        self._client.backend.join_review_session(session_id=self.id, rater=self._rater(rater))

    def next_item(self, rater: str) -> ReviewItemView | None:
        """The rater's next item (or the one they hold open); None when nothing is left for them."""
        return self._client.backend.next_review_item(session_id=self.id, rater=self._rater(rater))

    def item(self, item_id: int, rater: str) -> ReviewItemView:
        """An item already handed to this rater, with their rating so far (for Back)."""
        return self._client.backend.review_item(
            session_id=self.id, item_id=_item_id(item_id), rater=self._rater(rater)
        )

    def rate(
        self,
        item_id: int,
        rater: str,
        *,
        vote: int | None = None,
        winner: str | None = None,
        scores: Mapping[str, int] | None = None,
        comment: str | None = None,
    ) -> ReviewRating:
        """Rate an item handed to the rater (👍 1 / 👎 -1, or a verdict), replacing their earlier rating.

        Scores or a comment without a vote or verdict are kept as a draft and not counted.
        """
        if isinstance(comment, str):
            comment = self._client.capture.text(comment)
        return self._client.backend.rate_review_item(
            session_id=self.id,
            item_id=_item_id(item_id),
            rater=self._rater(rater),
            vote=vote,
            winner=winner,
            scores=None if scores is None else dict(scores),
            comment=comment,
        )

    def skip(self, item_id: int, rater: str) -> None:
        """Pass on an item: it goes to someone else and never back to this rater."""
        self._client.backend.skip_review_item(
            session_id=self.id, item_id=_item_id(item_id), rater=self._rater(rater)
        )

    def progress(self) -> list[RaterProgress]:
        """Per rater, by name: rated, skipped, drafts and remaining."""
        return self._client.backend.review_progress(session_id=self.id)

    def totals(self) -> RaterProgress:
        """Everyone's progress added up (``rater`` is ``"all"``)."""
        progress = self.progress()
        return RaterProgress(
            rater="all",
            rated=sum(one.rated for one in progress),
            skipped=sum(one.skipped for one in progress),
            drafts=sum(one.drafts for one in progress),
            remaining=sum(one.remaining for one in progress),
        )

    def ratings(self) -> pd.DataFrame:
        """One row per complete rating: vote or verdict, a column per criterion, comment, time and source."""
        from bilan_core.reviews.frames import ratings_frame

        return ratings_frame(self._client.backend.review_ratings(session_id=self.id), self.criteria)

    def items(self) -> pd.DataFrame:
        """One row per item: prompt, answer(s), model(s), variant(s), source and rating counts."""
        from bilan_core.reviews.frames import items_frame

        return items_frame(self._client.backend.review_items(session_id=self.id))

    def board(self) -> ReviewBoard:
        """The facilitator's live figures: progress, results, disputed items, newest comments, agreement."""
        from bilan_core.reviews.board import build_board

        self.refresh()
        return build_board(self.info, self.progress(), self.ratings(), self.items())

    def close(self) -> None:
        """Close the session: no more ratings, and a blind session shows its models."""
        self.info = self._client.backend.close_review_session(session_id=self.id)

    def report(self) -> ReviewReport:
        """Who rated how much, agreement, results per model or variant, comment themes and disputed items."""
        from bilan_core.reviews.report import build_report

        self.refresh()
        return build_report(self.info, self.ratings(), self.items())


def _item_id(value: object) -> int:
    if type(value) is not int or not 1 <= value < 2**31:
        raise ValueError(f"item_id must be a whole number from 1, got {value!r}")
    return value
