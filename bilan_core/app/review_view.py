"""The review pages' rules without Streamlit: the rubric's choices in words, what a rater's card submits,
the pages' links, and the create-session form's fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.clock import now_ms
from bilan_core.store.review_models import ReviewItemView, ReviewRating

REVIEW_PARAM, BOARD_PARAM, REPORT_PARAM = "review", "board", "report"
REVIEW_PAGE_PATH = "review"  # the Reviews page's address, after the app's
VOTE_CHOICES: dict[int, str] = {1: "👍 Good", -1: "👎 Bad"}
VERDICT_CHOICES: dict[str, str] = {
    "a": "A is better",
    "b": "B is better",
    "tie": "Tie",
    "both_bad": "Both bad",
}
SCORE_CHOICES = (1, 2, 3, 4, 5)
FEEDBACK_CHOICES: dict[str, str] = {"down": "👎 bad", "up": "👍 good", "unrated": "no vote yet"}


def rubric_choices(pairwise: bool) -> dict[Any, str]:
    """The rating's choices in words: a verdict on a pair, else 👍/👎 on one answer."""
    return dict(VERDICT_CHOICES) if pairwise else dict(VOTE_CHOICES)


def choice_words(value: object, pairwise: bool) -> str:
    """A stored vote or verdict in words (an icon never carries the meaning alone)."""
    return rubric_choices(pairwise).get(value, "not rated")


def progress_line(view: ReviewItemView) -> str:
    """The rater's progress on a card, e.g. "12 of 40 rated by you"."""
    return f"{view.rated_by_you} of {view.total_for_you} rated by you"


@dataclass(frozen=True)
class CardInput:
    """What a rater entered on a card: the vote or verdict (None if none), the scores given, the comment."""

    choice: Any = None
    scores: Mapping[str, int] = field(default_factory=dict)
    comment: str | None = None

    @classmethod
    def from_form(cls, choice: object, scores: Mapping[str, int | None], comment: str | None) -> CardInput:
        """The card's widgets read as an input: unset scores dropped, a blank comment as none."""
        text = comment if comment is not None and comment.strip() else None
        return cls(
            choice=choice,
            scores={name: value for name, value in scores.items() if value is not None},
            comment=text,
        )

    @property
    def complete(self) -> bool:
        """True when it holds the vote or verdict, so it counts."""
        return self.choice is not None

    @property
    def empty(self) -> bool:
        """True when nothing was entered at all."""
        return self.choice is None and not self.scores and self.comment is None

    def same_as(self, rating: ReviewRating | None, pairwise: bool) -> bool:
        """True when it says what the stored rating says (nothing to save)."""
        if rating is None:
            return self.empty
        stored = rating.winner if pairwise else rating.vote
        return (stored, dict(rating.scores), rating.comment) == (self.choice, dict(self.scores), self.comment)

    def as_draft(self) -> CardInput:
        """The same input without its vote or verdict (kept, not counted)."""
        return CardInput(scores=self.scores, comment=self.comment)

    def rate_arguments(self, pairwise: bool) -> dict[str, Any]:
        """The keyword arguments of ``ReviewSession.rate`` for this input."""
        return {
            "winner" if pairwise else "vote": self.choice,
            "scores": dict(self.scores),
            "comment": self.comment,
        }

    def saved_message(self, pairwise: bool) -> str:
        """The toast that confirms the save, in words."""
        if self.complete:
            return f"Saved: {choice_words(self.choice, pairwise)}."
        ask = "a verdict" if pairwise else "👍 Good or 👎 Bad"
        return f"Kept as a draft: choose {ask} to count it."


def stored_choice(rating: ReviewRating | None, pairwise: bool) -> Any:
    """The vote or verdict a card shows pre-filled (None when not rated yet)."""
    if rating is None:
        return None
    return rating.winner if pairwise else rating.vote


def review_link(session_id: str, *, board: bool = False, report: bool = False) -> str:
    """The app-relative link to a session's rater page, board or report (``?review=<id>``…)."""
    params = {REVIEW_PARAM: session_id}
    if board:
        params[BOARD_PARAM] = "1"
    if report:
        params[REPORT_PARAM] = "1"
    return "?" + urlencode(params)


def shared_link(page_url: str | None, session_id: str) -> str:
    """The full link raters open (the app's address with ``?review=<id>``), from the board's own URL."""
    if not page_url:
        return review_link(session_id)
    parts = urlsplit(page_url)
    path = parts.path.rstrip("/")
    if path.rsplit("/", 1)[-1] == REVIEW_PAGE_PATH:
        path = path.rsplit("/", 1)[0]
    return urlunsplit((parts.scheme, parts.netloc, path + "/", review_link(session_id)[1:], ""))


def criteria_from_text(text: str | None) -> tuple[str, ...]:
    """Criteria typed as a comma-separated list ("accuracy, tone"), blanks dropped."""
    if not text:
        return ()
    return tuple(name.strip() for name in text.split(",") if name.strip())


def raters_per_item_from_input(value: int | None) -> int | None:
    """The number input's k: 0 (or nothing) means every rater rates every item."""
    if not value:
        return None
    return int(value)


def recent_filter(days: int, models: tuple[str, ...] = (), *, at_ms: int | None = None) -> AnalyticsFilter:
    """The turns of the last ``days`` days (every model unless some are named)."""
    if type(days) is not int or days < 1:
        raise ValueError(f"days must be a whole number from 1, got {days!r}")
    end = now_ms() if at_ms is None else at_ms
    return AnalyticsFilter(start_ms=end - int(timedelta(days=days).total_seconds() * 1000), models=models)
