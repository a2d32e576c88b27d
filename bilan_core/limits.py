"""The limits every entry point shares (SDK, app, server): sizes of ids, labels and texts, and their checks.

One place for each rule, so the library, the Streamlit app and the server refuse the same input with
the same words. The column sizes of ``store.models`` come from here too.
"""

from __future__ import annotations

from typing import Any

MAX_LABEL_LENGTH = 200  # ids and labels: user, model, conversation, variant, team session, prompt version
MAX_STATUS_LENGTH = 40
MAX_EVENT_TYPE_LENGTH = 100
MAX_COMMENT_LENGTH = 10_000
MAX_PROMPT_LENGTH = 100_000
NUL = "\x00"


def nul_refusal(name: str) -> str:
    """The sentence that refuses a NUL character in ``name`` (PostgreSQL cannot store one)."""
    return f"{name} contains a NUL character (\\x00), which cannot be stored"


def check_label(name: str, value: object, *, limit: int = MAX_LABEL_LENGTH) -> str:
    """``value`` if it is a non-empty string of at most ``limit`` characters with no NUL, else ValueError."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if len(value) > limit:
        raise ValueError(f"{name} is {len(value):,} characters; the limit is {limit:,}")
    if NUL in value:
        raise ValueError(nul_refusal(name))
    return value


def check_optional_label(name: str, value: object, *, limit: int = MAX_LABEL_LENGTH) -> str | None:
    """``check_label`` for an optional value: None stays None."""
    return None if value is None else check_label(name, value, limit=limit)


def contains_nul(value: Any) -> bool:
    """True if a string, or any string inside nested dicts and lists, holds a NUL character."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(contains_nul(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(contains_nul(item) for item in value)
    return False
