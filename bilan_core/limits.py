"""The limits every entry point shares (SDK, app, server): sizes of ids, labels and texts, and their checks.

One place for each rule, so the library, the Streamlit app and the server refuse the same input with
the same words. The column sizes of ``store.models`` come from here too.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_LABEL_LENGTH = 200  # ids and labels: user, model, conversation, variant, team session, prompt version
# PostgreSQL's btree index rows hold at most 2704 bytes, and the covering indexes of turns and votes
# hold four labels (model, prompt version, user, team session) each: 4 x 600 bytes and the rest fit.
MAX_LABEL_BYTES = 600
# How deep an event's properties may nest: far below the depth any reader (pydantic's serializer
# stops at about 250, Python's json at about 1000) refuses, so what is stored can be read back.
MAX_JSON_DEPTH = 64
MAX_STATUS_LENGTH = 40
MAX_EVENT_TYPE_LENGTH = 100
MAX_COMMENT_LENGTH = 10_000
MAX_PROMPT_LENGTH = 100_000
MAX_RETENTION_DAYS = 36_500  # a hundred years: a larger number is a typo, not a policy
NUL = "\x00"
REPLACEMENT_CHARACTER = "\ufffd"
# A Python string holds a code point in U+D800-U+DFFF only as half of a UTF-16 pair left alone (from a
# JSON escape such as "\ud83d" or surrogateescape): UTF-8 cannot encode it, so no database stores it.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def check_label(name: str, value: object, *, limit: int = MAX_LABEL_LENGTH) -> str:
    """``value`` if it is a non-empty string of at most ``limit`` characters, storable, else ValueError."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if len(value) > limit:
        raise ValueError(f"{name} is {len(value):,} characters; the limit is {limit:,}")
    check_storable(name, value)
    if limit <= MAX_LABEL_LENGTH:  # a label, which indexes hold
        check_label_bytes(name, value)
    return value


def check_label_bytes(name: str, value: str) -> str:
    """``value`` if its UTF-8 form fits a label's index entry (``MAX_LABEL_BYTES``), else ValueError."""
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_LABEL_BYTES:
        raise ValueError(
            f"{name} is {size:,} bytes in UTF-8; the limit is {MAX_LABEL_BYTES:,} "
            f"(200 characters of up to 3 bytes, or 150 emoji)"
        )
    return value


def check_retention_days(name: str, value: object) -> int:
    """``value`` if it is a whole number of days from 1 to 36,500, else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RETENTION_DAYS:
        raise ValueError(
            f"{name} must be a whole number of days from 1 to {MAX_RETENTION_DAYS:,}, got {value!r}"
        )
    return value


def check_optional_label(name: str, value: object, *, limit: int = MAX_LABEL_LENGTH) -> str | None:
    """``check_label`` for an optional value: None stays None."""
    return None if value is None else check_label(name, value, limit=limit)


def unstorable_text(value: Any) -> str | None:
    """What no database can store in a string (or in any key or string nested in dicts and lists): a NUL
    character or a lone surrogate, named; None when there is none."""
    if isinstance(value, str):
        if NUL in value:
            return "a NUL character (\\x00)"
        surrogate = _lone_surrogate(value)
        if surrogate is None:
            return None
        return f"a lone surrogate (U+{ord(surrogate):04X}, half of a UTF-16 pair, not valid text)"
    if isinstance(value, dict):
        return unstorable_text([*value.keys(), *value.values()])
    if isinstance(value, list | tuple):
        return next((found for item in value if (found := unstorable_text(item)) is not None), None)
    return None


def check_storable(name: str, value: Any) -> None:
    """ValueError naming ``name`` when ``value`` holds text no database can store (``unstorable_text``)."""
    problem = unstorable_text(value)
    if problem is not None:
        raise ValueError(f"{name} contains {problem}, which cannot be stored")


def storable(text: str, replacement: str = REPLACEMENT_CHARACTER) -> str:
    """Text as a database keeps it: NULs and lone surrogates become ``replacement`` (U+FFFD)."""
    if NUL not in text and _lone_surrogate(text) is None:
        return text
    return _UNSTORABLE.sub(replacement, text)


def _lone_surrogate(text: str) -> str | None:
    # The checks run in C (the regular expression is ~1000 times slower on clean text): ASCII has no
    # surrogate, and UTF-8 encoding fails exactly on one.
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return text[exc.start]
    return None


def json_problem(value: Any, *, check_text: bool = True) -> str | None:
    """Why a decoded JSON value cannot be stored, or None: text no database can store in a string or a
    key (when ``check_text``), a number that is not finite (``1e400``) or more than ``MAX_JSON_DEPTH``
    levels of nesting."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list) and level > MAX_JSON_DEPTH:
            return f"nests deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(item, dict):
            stack.extend((key, level) for key in item)
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
        elif isinstance(item, float) and not math.isfinite(item):
            return f"holds the number {item}, which is not finite (JSON numbers must be finite)"
        elif check_text and isinstance(item, str):
            problem = unstorable_text(item)
            if problem is not None:
                return f"contains {problem}, which cannot be stored"
    return None
