"""Drill-down: what a click on an Analytics chart opens, as the answers behind the clicked mark.

A chart's named selection (``charts.SELECTIONS``) gives the clicked point's fields (a model, a day, a vote,
an outcome, a voter, a prompt version); ``drill_from_selection`` narrows the page's filter to them and
says in words what is shown. The answers themselves are read with ``Bilan.answers``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bilan_core.analytics.charts import SELECTIONS
from bilan_core.analytics.filters import AnalyticsFilter, AnswersQuery
from bilan_core.analytics.palette import DOWN, UP
from bilan_core.analytics.rollups import NO_VERSION
from bilan_core.clock import MS_PER_DAY, to_datetime

OUTCOME_STATUSES = {"error": "error", "cancelled": "cancelled"}
VOTE_SIGNS = {UP: 1, DOWN: -1}


@dataclass(frozen=True)
class Drill:
    """The answers behind a clicked mark: their filter, the narrowing beyond it, and a title in words."""

    title: str
    where: AnalyticsFilter
    query: AnswersQuery = field(default_factory=lambda: AnswersQuery())


def drill_from_selection(chart: str, selection: Mapping[str, Any], where: AnalyticsFilter) -> Drill | None:
    """The drill-down for ``chart``'s selection state (Streamlit's ``event.selection``); None if none is made.

    Only the first clicked point counts; a point whose fields are not what the chart sends is ignored.
    """
    if chart not in SELECTIONS:
        raise ValueError(f"unknown chart {chart!r}; one of {', '.join(SELECTIONS)}")
    name, fields = SELECTIONS[chart]
    points = selection.get(name) or []
    if not isinstance(points, list) or not points or not isinstance(points[0], Mapping):
        return None
    point = points[0]
    if any(point.get(key) is None for key in fields):
        return None
    return _narrowed(point, where)


def _narrowed(point: Mapping[str, Any], where: AnalyticsFilter) -> Drill | None:
    words: list[str] = []
    query = AnswersQuery()
    narrowed = where
    if "model" in point:
        narrowed = replace(narrowed, models=(str(point["model"]),))
        words.append(f"model {point['model']}")
    if "prompt_version" in point:
        version = str(point["prompt_version"])
        if version == NO_VERSION:
            query["unversioned"] = True
        else:
            narrowed = replace(narrowed, prompt_versions=(version,))
        words.append(f"prompt version {version}")
    if "user_id" in point:
        query["voter"] = str(point["user_id"])
        words.append(f"voted on by {point['user_id']}")
    if point.get("vote") in VOTE_SIGNS:
        query["sign"] = VOTE_SIGNS[point["vote"]]
        words.append(f"with a {point['vote']} vote")
    if point.get("outcome") in OUTCOME_STATUSES:
        query["status"] = OUTCOME_STATUSES[point["outcome"]]
        words.append(f"that ended {point['outcome']}")
    if "day" in point:
        day = _day_of(point["day"])
        if day is None:
            return None
        start = max(day * MS_PER_DAY, where.start_ms or 0)
        end = min(
            (day + 1) * MS_PER_DAY, where.end_ms if where.end_ms is not None else (day + 1) * MS_PER_DAY
        )
        if start >= end:
            return None
        narrowed = replace(narrowed, start_ms=start, end_ms=end)
        words.append(f"on {to_datetime(day * MS_PER_DAY):%Y-%m-%d} (UTC)")
    return Drill(title="Answers: " + ", ".join(words), where=narrowed, query=query)


def _day_of(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        return None
    return int(value)


PREVIEW_CHARS = 160


def answer_preview(prompt: object) -> str:
    """A prompt on one line, cut at ``PREVIEW_CHARS`` with an ellipsis, to scan a list of answers."""
    if not isinstance(prompt, str) or not prompt.strip():
        return "(no prompt stored)"
    line = " ".join(prompt.split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1].rstrip() + "…"
