"""The four capture levels and their order (light: the settings import it at start-up)."""

from __future__ import annotations

from typing import Literal, cast, get_args

CaptureLevel = Literal["full", "sanitized", "metadata", "none"]
FULL: CaptureLevel = "full"
CAPTURE_LEVELS: tuple[CaptureLevel, ...] = ("none", "metadata", "sanitized", "full")  # least kept first


def check_capture_level(value: object) -> CaptureLevel:
    """``value`` if it is a capture level, else ValueError naming the four."""
    if isinstance(value, str) and value.strip().lower() in get_args(CaptureLevel):
        return cast(CaptureLevel, value.strip().lower())
    raise ValueError(f"unknown capture level {value!r}: use one of full, sanitized, metadata, none")


def rank(level: CaptureLevel) -> int:
    """0 for ``none`` up to 3 for ``full``: a higher rank keeps more."""
    return CAPTURE_LEVELS.index(level)


def lower_level(first: CaptureLevel, second: CaptureLevel) -> CaptureLevel:
    """The level of the two that keeps less."""
    return first if rank(first) <= rank(second) else second


def lowest_level(levels: list[CaptureLevel]) -> CaptureLevel:
    """The level that keeps least of several."""
    return min(levels, key=CAPTURE_LEVELS.index)
