"""Who is using the app: a display name becomes the user id of turns and votes; team-session labels."""

from __future__ import annotations

from dataclasses import dataclass

from bilan_core.limits import MAX_LABEL_LENGTH

OWNERSHIP_NOTE = (
    "Nothing checks this name: whoever types it can continue, rename and delete its chats (an honour "
    "system). A password (BILAN_APP_PASSWORD) keeps out people without it, not one teammate from another."
)


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


ANONYMOUS_NOTE = "until you type your name in the sidebar, your chats and votes are recorded as {default}"


@dataclass(frozen=True)
class LinkIdentity:
    """The identity a shared link carries: the valid parts kept, and one message per part refused."""

    user_id: str | None
    team_session: str | None
    errors: tuple[str, ...]


def identity_from_link(user: str | None, team: str | None, *, default_user: str) -> LinkIdentity:
    """The ``?user=`` and ``?team=`` of a link, each kept when valid; every refused part says why, and a
    refused name says who the visitor is recorded as instead (``default_user``)."""
    errors = []
    try:
        user_id = user_id_from_display_name(user)
    except ValueError as exc:
        user_id = None
        note = ANONYMOUS_NOTE.format(default=repr(default_user))
        errors.append(f"The link's ?user= was not used: {exc}; {note}.")
    try:
        team_session = team_session_label(team)
    except ValueError as exc:
        team_session = None
        errors.append(f"The link's ?team= was not used: {exc}; no team session is set.")
    return LinkIdentity(user_id, team_session, tuple(errors))
