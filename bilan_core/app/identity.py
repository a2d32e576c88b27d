"""Who is using the app: a display name becomes the user id of turns and votes; team-session labels."""

from __future__ import annotations

from bilan_core.limits import MAX_LABEL_LENGTH


def clean_label(text: str | None, *, what: str) -> str | None:
    """``text`` on one line, None when blank; refuse control characters and over-long labels."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError(f"{what} must be text, got {type(text).__name__}")
    if any(ord(char) < 32 or ord(char) == 127 for char in text if char not in " \t"):
        raise ValueError(f"{what} must not contain control characters or line breaks")
    label = " ".join(text.split())
    if len(label) > MAX_LABEL_LENGTH:
        raise ValueError(f"{what} is {len(label)} characters; the limit is {MAX_LABEL_LENGTH}")
    return label or None


def user_id_from_display_name(display_name: str | None) -> str | None:
    """The user id recorded for a display name (the cleaned name itself), or None when blank."""
    return clean_label(display_name, what="the display name")


def team_session_label(label: str | None) -> str | None:
    """A cleaned team-session label, or None when blank."""
    return clean_label(label, what="the team-session label")
