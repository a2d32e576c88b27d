"""The shapes of review sessions as they are created, handed out, rated and read (in both modes)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

SESSION_OPEN, SESSION_CLOSED = "open", "closed"
OPEN, RATED, SKIPPED, LAPSED = "open", "rated", "skipped", "lapsed"


class NewReviewSession(BaseModel):
    """A session to store: its name, rubric, handout rule and where its items came from."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: str
    pairwise: bool = False
    criteria: tuple[str, ...] = ()
    raters_per_item: int | None = None
    blind: bool = True
    instructions: str | None = None
    source: dict[str, Any] = {}
    created_by: str


class NewReviewItem(BaseModel):
    """One item to store: a recorded answer (or, pairwise, answers A and B), with its variant names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt_id: str
    prompt_id_b: str | None = None
    variant: str | None = None
    variant_b: str | None = None
    dataset_position: int | None = None


class ReviewSessionInfo(BaseModel):
    """A stored session: what it is, its rubric and status, and how many items it holds."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    status: str
    pairwise: bool
    criteria: tuple[str, ...]
    raters_per_item: int | None
    blind: bool
    instructions: str | None
    item_count: int
    created_by: str
    created_ms: int
    closed_ms: int | None = None
    source: dict[str, Any] = {}


class ReviewRating(BaseModel):
    """One rater's rating of one item; ``complete`` when it holds a vote or verdict (else a draft)."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    item_id: int
    rater: str
    vote: int | None = None
    winner: str | None = None
    scores: dict[str, int] = {}
    comment: str | None = None
    complete: bool
    rated_ms: int | None = None


class ReviewItemView(BaseModel):
    """One item as a rater sees it: the prompt, the answer(s), their rating so far and their counts.

    ``model``, ``variant`` and ``prompt_version`` (and their ``_b`` twins) stay None while a blind
    session is open.
    """

    model_config = ConfigDict(frozen=True)

    session_id: str
    item_id: int
    position: int
    state: str
    messages: list[dict[str, Any]] | None = None
    prompt: str | None = None
    answer: str | None = None
    answer_b: str | None = None
    pairwise: bool = False
    revealed: bool
    model: str | None = None
    model_b: str | None = None
    variant: str | None = None
    variant_b: str | None = None
    prompt_version: str | None = None
    prompt_version_b: str | None = None
    rating: ReviewRating | None = None
    rated_by_you: int
    total_for_you: int
    previous_item_id: int | None = None
    next_item_id: int | None = None

    @property
    def answer_a(self) -> str | None:
        """Side A's answer of a pairwise item (the same as ``answer``)."""
        return self.answer


class RaterProgress(BaseModel):
    """How far one rater is: rated, skipped, drafts (comments without a vote) and items still to do."""

    model_config = ConfigDict(frozen=True)

    rater: str
    rated: int = 0
    skipped: int = 0
    drafts: int = 0
    remaining: int = 0


class ReviewRatingRow(BaseModel):
    """One complete rating with the item it rates (a row of ``ReviewSession.ratings()``)."""

    model_config = ConfigDict(frozen=True)

    item_id: int
    position: int
    rater: str
    vote: int | None = None
    winner: str | None = None
    scores: dict[str, int] = {}
    comment: str | None = None
    rated_ms: int | None = None
    prompt_id: str
    prompt_id_b: str | None = None
    model: str | None = None
    model_b: str | None = None
    variant: str | None = None
    variant_b: str | None = None
    prompt_version: str | None = None
    prompt_version_b: str | None = None


class ReviewItemRow(BaseModel):
    """One item with what it shows, where it came from and how far it is rated (``items()``)."""

    model_config = ConfigDict(frozen=True)

    item_id: int
    position: int
    prompt_id: str
    prompt_id_b: str | None = None
    prompt: str | None = None
    answer: str | None = None
    answer_b: str | None = None
    model: str | None = None
    model_b: str | None = None
    variant: str | None = None
    variant_b: str | None = None
    prompt_version: str | None = None
    prompt_version_b: str | None = None
    dataset_position: int | None = None
    ratings: int = 0
    skips: int = 0
