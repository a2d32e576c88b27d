"""The review session tables: sessions, their items, who joined, and each rater's handouts with ratings.

A session belongs to a project; its items, raters and assignments have no project of their own, so
every read or write first finds the session in the project. An assignment is one item handed to one
rater; the rater's rating (vote or verdict, criterion scores, comment) is stored on it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from bilan_core.limits import MAX_LABEL_LENGTH
from bilan_core.store.models import LOCAL_PROJECT, _json_column, _ms_column, _text_column


class ReviewSessionRow(SQLModel, table=True):
    """A team review session: its rubric, how items are handed out, and whether it is still open."""

    __tablename__ = "review_sessions"
    __table_args__ = (Index("ix_review_sessions_created", "project_id", "created_ms"),)

    id: str = Field(primary_key=True, max_length=64)
    project_id: int = Field(default=LOCAL_PROJECT)
    name: str = Field(max_length=MAX_LABEL_LENGTH)
    status: str = Field(default="open", max_length=20)
    pairwise: bool = False
    criteria: list[str] | None = _json_column()
    raters_per_item: int | None = None
    blind: bool = True
    instructions: str | None = _text_column()
    source: dict[str, Any] | None = _json_column()
    item_count: int = 0
    created_by: str = Field(max_length=MAX_LABEL_LENGTH)
    created_ms: int = _ms_column()
    closed_ms: int | None = _ms_column(nullable=True)


class ReviewItemRow(SQLModel, table=True):
    """One thing to rate: a recorded answer, or (pairwise) two answers to the same input.

    ``load`` counts the item's live handouts (ratings and unexpired open assignments), so the
    handout finds the least-covered item with one index seek.
    """

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("session_id", "position", name="uq_review_items_position"),
        Index("ix_review_items_load", "session_id", "load", "position"),
        Index("ix_review_items_prompt", "prompt_id"),
        Index("ix_review_items_prompt_b", "prompt_id_b"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(max_length=64)
    position: int
    prompt_id: str = Field(max_length=MAX_LABEL_LENGTH)
    prompt_id_b: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    variant: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    variant_b: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    dataset_position: int | None = None
    load: int = 0


class ReviewRaterRow(SQLModel, table=True):
    """A person who joined a session (a user id, hashed at the ``none`` capture level)."""

    __tablename__ = "review_raters"
    __table_args__ = (UniqueConstraint("session_id", "rater", name="uq_review_raters"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(max_length=64)
    rater: str = Field(max_length=MAX_LABEL_LENGTH)
    joined_ms: int = _ms_column()


class ReviewAssignmentRow(SQLModel, table=True):
    """One item handed to one rater (``state``: open, rated, skipped or lapsed) and their rating."""

    __tablename__ = "review_assignments"
    __table_args__ = (
        UniqueConstraint("item_id", "rater", name="uq_review_assignments_once"),
        UniqueConstraint("session_id", "rater", "seq", name="uq_review_assignments_seq"),
        Index("ix_review_assignments_state", "session_id", "state", "handed_ms"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(max_length=64)
    item_id: int
    rater: str = Field(max_length=MAX_LABEL_LENGTH)
    seq: int
    state: str = Field(default="open", max_length=20)
    handed_ms: int = _ms_column()
    vote: int | None = None
    winner: str | None = Field(default=None, max_length=20)
    scores: dict[str, int] | None = _json_column()
    comment: str | None = _text_column()
    comparison_id: str | None = Field(default=None, max_length=64)
    rated_ms: int | None = _ms_column(nullable=True)


REVIEW_SESSIONS: Table = ReviewSessionRow.__table__  # type: ignore[attr-defined]
REVIEW_ITEMS: Table = ReviewItemRow.__table__  # type: ignore[attr-defined]
REVIEW_RATERS: Table = ReviewRaterRow.__table__  # type: ignore[attr-defined]
REVIEW_ASSIGNMENTS: Table = ReviewAssignmentRow.__table__  # type: ignore[attr-defined]
