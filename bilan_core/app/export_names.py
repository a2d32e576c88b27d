"""Download file names that say what is in them: the kind, the Analytics filter and the day of the export."""

from __future__ import annotations

import re
from datetime import date

from bilan_core.analytics.exports import EXPORT_FILES
from bilan_core.app.analytics_view import PageFilters

MAX_PART = 40
MAX_NAME = 150


def _slug(text: str) -> str:
    """``text`` with anything but letters, digits, dots and dashes made a dash (safe on every system)."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-.")[:MAX_PART] or "x"


def filter_words(filters: PageFilters) -> list[str]:
    """The filter as short file-name parts: the range, then each name filter that is set."""
    words = [
        f"{filters.start_day}_to_{filters.end_day}" if filters.time_range == "custom" else filters.time_range
    ]
    named = (
        ("model", filters.models),
        ("user", filters.users),
        ("version", filters.prompt_versions),
        ("prompt", filters.prompts),
    )
    for label, values in named:
        if values:
            words.append(f"{label}-" + "+".join(_slug(value) for value in values))
    if filters.team_session:
        words.append(f"session-{_slug(filters.team_session)}")
    return words


def export_file_name(kind: str, filters: PageFilters, today: date) -> str:
    """E.g. ``bilan-turns_30d_model-gpt-4o_2026-05-01.csv``: the kind, the filter, the day exported."""
    if kind not in EXPORT_FILES:
        raise ValueError(f"export kind must be one of {', '.join(EXPORT_FILES)}, got {kind!r}")
    base, _, extension = EXPORT_FILES[kind][0].rpartition(".")
    stem = "_".join([base, *filter_words(filters)])[: MAX_NAME - 20]
    return f"{stem}_{today.isoformat()}.{extension}"
