"""A review session's rubric and settings, and whether a rating fits them.

The rubric is always 👍/👎 (1 / -1) on a single answer, or a verdict (``a``, ``b``, ``tie``,
``both_bad``) on a pair, with an optional comment; a session may add named criteria scored 1 to 5.
A rating is complete when it holds the vote or verdict; scores or a comment alone are kept as a
draft (stored, never counted), so a rater's typed text is never lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bilan_core.errors import InvalidRatingError
from bilan_core.limits import MAX_COMMENT_LENGTH, check_label, check_storable
from bilan_core.store.comparisons import WINNERS
from bilan_core.store.review_models import ReviewSessionInfo
from bilan_core.store.votes import validate_comment, validate_vote_value

MAX_CRITERIA = 10
MAX_CRITERION_LENGTH = 60
MAX_RATERS_PER_ITEM = 100
MIN_SCORE, MAX_SCORE = 1, 5
# Column names of the ratings table a criterion must not take.
RESERVED_NAMES = frozenset(
    {"item_id", "position", "rater", "vote", "winner", "comment", "rated_at", "prompt_id", "prompt_id_b"}
    | {"model", "model_b", "variant", "variant_b", "prompt_version", "prompt_version_b", "scores"}
)


@dataclass(frozen=True)
class CheckedRating:
    """A rating that fits its session's rubric, ready to store."""

    vote: int | None
    winner: str | None
    scores: dict[str, int]
    comment: str | None

    @property
    def complete(self) -> bool:
        """True when it holds the vote or verdict: a draft otherwise."""
        return self.vote is not None or self.winner is not None


def check_criteria(criteria: object) -> tuple[str, ...]:
    """The criteria's names, stripped; refuse non-text, blanks, repeats, reserved names and too many."""
    if isinstance(criteria, str) or not isinstance(criteria, Iterable):
        raise ValueError("criteria must be a list of names such as ['accuracy', 'tone']")
    names: list[str] = []
    for name in criteria:
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_CRITERION_LENGTH:
            raise ValueError(f"a criterion is a name of 1 to {MAX_CRITERION_LENGTH} characters, got {name!r}")
        cleaned = name.strip()
        check_storable("a criterion", cleaned)
        if cleaned in names:
            raise ValueError(f"criterion {cleaned!r} is named twice")
        if cleaned in RESERVED_NAMES:
            raise ValueError(f"{cleaned!r} cannot name a criterion: the ratings table uses it")
        names.append(cleaned)
    if len(names) > MAX_CRITERIA:
        raise ValueError(f"a session takes at most {MAX_CRITERIA} criteria, got {len(names)}")
    return tuple(names)


def check_raters_per_item(value: object) -> int | None:
    """None (everyone rates every item) or a whole number of raters from 1 to 100."""
    if value is None:
        return None
    if type(value) is not int or not 1 <= value <= MAX_RATERS_PER_ITEM:
        raise ValueError(
            f"raters_per_item must be a whole number from 1 to {MAX_RATERS_PER_ITEM}, got {value!r}"
        )
    return value


def check_instructions(value: object) -> str | None:
    """Instructions for the raters, stripped (None when empty), within the comment size limit."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_COMMENT_LENGTH:
        raise ValueError(f"instructions must be text of at most {MAX_COMMENT_LENGTH:,} characters")
    check_storable("the instructions", value)
    return value.strip() or None


def check_session_name(name: object) -> str:
    """A session name: a non-empty label."""
    return check_label("name", name)


def check_rating(
    session: ReviewSessionInfo,
    *,
    vote: object = None,
    winner: object = None,
    scores: object = None,
    comment: object = None,
) -> CheckedRating:
    """The rating if it fits the session's rubric; InvalidRatingError saying what does not."""
    if vote is None and winner is None and not scores and comment is None:
        raise InvalidRatingError("a rating needs a vote, a verdict, scores or a comment")
    try:
        checked_comment = validate_comment(comment)
    except ValueError as exc:
        raise InvalidRatingError(str(exc)) from None
    return CheckedRating(
        vote=_checked_vote(session, vote),
        winner=_checked_winner(session, winner),
        scores=_checked_scores(session, scores),
        comment=checked_comment,
    )


def _checked_vote(session: ReviewSessionInfo, vote: object) -> int | None:
    if vote is None:
        return None
    if session.pairwise:
        raise InvalidRatingError("this session compares two answers: give a verdict (winner=…), not a vote")
    try:
        return validate_vote_value(vote)
    except ValueError as exc:
        raise InvalidRatingError(str(exc)) from None


def _checked_winner(session: ReviewSessionInfo, winner: object) -> str | None:
    if winner is None:
        return None
    if not session.pairwise:
        raise InvalidRatingError("this session rates single answers: give a vote (1 or -1), not a verdict")
    if winner not in WINNERS:
        raise InvalidRatingError(f"the verdict must be one of {', '.join(WINNERS)}, got {winner!r}")
    return str(winner)


def _checked_scores(session: ReviewSessionInfo, scores: object) -> dict[str, int]:
    if scores is None:
        return {}
    if not isinstance(scores, Mapping):
        raise InvalidRatingError(f"scores must map criteria to 1–5, got {type(scores).__name__}")
    checked: dict[str, int] = {}
    for name, score in scores.items():
        if name not in session.criteria:
            known = ", ".join(session.criteria) or "none"
            raise InvalidRatingError(f"{name!r} is not a criterion of this session (its criteria: {known})")
        if type(score) is not int or not MIN_SCORE <= score <= MAX_SCORE:
            raise InvalidRatingError(
                f"the score for {name!r} must be a whole number from {MIN_SCORE} to {MAX_SCORE}, "
                f"got {score!r}"
            )
        checked[name] = score
    return checked
