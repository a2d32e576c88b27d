"""Feedback that is safe to change: a changed vote keeps its comment, and a comment typed before the vote is
saved with it (``Bilan.vote`` replaces the whole vote, comment included, so the comment is sent again)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bilan_core.app.feedback_prompts import vote_from_thumbs

if TYPE_CHECKING:
    from bilan_core.client.bilan import Bilan


@dataclass(frozen=True)
class FeedbackChange:
    """A thumbs choice applied: the vote now stored, its comment, and the text to keep in the comment box."""

    vote: int | None
    comment: str | None
    draft: str | None


def comment_for_vote(draft: str | None, stored: str | None) -> str | None:
    """The comment to store with a new or changed vote: the visitor's unsaved text, else the stored one."""
    if draft is not None and draft.strip():
        return draft
    return stored


def change_vote(
    client: Bilan,
    prompt_id: str,
    selection: int | None,
    *,
    stored_comment: str | None = None,
    draft: str | None = None,
) -> FeedbackChange:
    """Store the vote a thumbs widget now shows, keeping the comment (the draft wins over the stored one);
    a cleared vote keeps its comment as the draft, so taking a vote back loses no text."""
    value = vote_from_thumbs(selection)
    comment = comment_for_vote(draft, stored_comment)
    if value is None:
        client.clear_vote(prompt_id)
        return FeedbackChange(vote=None, comment=None, draft=comment)
    stored = client.vote(prompt_id, value, comment)
    return FeedbackChange(vote=value, comment=stored.comment, draft=stored.comment)
