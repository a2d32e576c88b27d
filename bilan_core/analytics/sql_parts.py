"""SQL pieces shared by ``stats`` and the dashboard: a vote's trust weight and the day bucket."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, literal, literal_column
from sqlalchemy.sql import ColumnElement
from sqlmodel import col

from bilan_core.analytics.trust import FLOOR_AGE_DAYS, HALF_LIFE_DAYS, MIN_WEIGHT
from bilan_core.clock import MS_PER_DAY
from bilan_core.store.models import Turn, Vote
from bilan_core.store.upsert import greatest, least


def weight_expression(dialect: str, at_ms: int) -> Any:
    """A vote's trust weight at ``at_ms`` in SQL, as ``trust.vote_weight`` computes it, for any age."""
    age_days = (literal(at_ms) - col(Vote.created_ms)) / float(MS_PER_DAY)
    capped = least(dialect, literal(FLOOR_AGE_DAYS), greatest(dialect, literal(0.0), age_days))
    return greatest(dialect, literal(MIN_WEIGHT), func.power(0.5, capped / HALF_LIFE_DAYS))


def day_bucket(table: type[Turn] | type[Vote]) -> ColumnElement[int]:
    """The UTC day number of a row, spelled as in the daily indexes (``models.DAY_BUCKET_SQL``)."""
    return literal_column(f"({table.__tablename__}.created_ms / {MS_PER_DAY})")


NOT_CAPTURED = "[not captured]"
UNCAPTURED_LEVELS = ("metadata", "none")


def shown_text(column: Any) -> ColumnElement[Any]:
    """A turn's text column, or ``[not captured]`` where its capture level kept no text (never a blank)."""
    withheld = case((col(Turn.capture).in_(UNCAPTURED_LEVELS), literal(NOT_CAPTURED)), else_=None)
    return func.coalesce(column, withheld)
