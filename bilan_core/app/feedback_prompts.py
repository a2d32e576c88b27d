"""How the thumbs widget maps to votes, which follow-up question a vote asks, and a vote in words."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bilan_core.client.bilan import Bilan

THUMBS_UP_QUESTION = "What made this response helpful?"
THUMBS_DOWN_QUESTION = "How could this response be improved?"


def vote_from_thumbs(selection: int | None) -> int | None:
    """The vote for a thumbs widget value: 1 (👍) → +1, 0 (👎) → -1, None → no vote."""
    if selection is None:
        return None
    if selection == 1:
        return 1
    if selection == 0:
        return -1
    raise ValueError(f"a thumbs selection is 0, 1 or None, got {selection!r}")


def apply_thumbs(client: Bilan, prompt_id: str, selection: int | None) -> int | None:
    """Store the vote a thumbs widget now shows (None clears it); returns that vote, or None."""
    value = vote_from_thumbs(selection)
    if value is None:
        client.clear_vote(prompt_id)
    else:
        client.vote(prompt_id, value)
    return value


def thumbs_from_vote(value: int | None) -> int | None:
    """The thumbs widget value that shows a stored vote: +1 → 1, -1 → 0, none → None."""
    if value is None:
        return None
    if value == 1:
        return 1
    if value == -1:
        return 0
    raise ValueError(f"a vote is +1 or -1, got {value!r}")


def comment_question(value: int) -> str:
    """The follow-up question asked right after a vote."""
    if value == 1:
        return THUMBS_UP_QUESTION
    if value == -1:
        return THUMBS_DOWN_QUESTION
    raise ValueError(f"a vote is +1 or -1, got {value!r}")


def vote_words(value: int | None) -> str:
    """The visitor's vote in words beside the thumbs, so its meaning never rests on an icon alone."""
    if value is None:
        return "Not rated yet: thumbs up if this answer helped, thumbs down if not."
    if value == 1:
        return "You rated this answer good (thumbs up)."
    if value == -1:
        return "You rated this answer bad (thumbs down)."
    raise ValueError(f"a vote is +1 or -1, got {value!r}")
