"""Analytics on the wire: dashboards, comment pages and their DataFrames as JSON, and back.

A frame travels column by column: name, dtype and values, missing values as ``null``, times as ISO
text. Only what the analytics frames hold is supported: numbers, booleans, text and datetimes.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

import pandas as pd
from pydantic import BaseModel

from bilan_core.analytics.answers import AnswersPage
from bilan_core.analytics.dashboard import CommentsPage, Dashboard, Headline


class ColumnJson(BaseModel):
    """One column: its name, its pandas dtype (e.g. ``int64``, ``datetime64[ns]``) and its values."""

    name: str
    dtype: str
    values: list[Any]


class FrameJson(BaseModel):
    """A DataFrame with a default (0, 1, 2, …) index, column by column."""

    columns: list[ColumnJson]


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def frame_to_json(frame: pd.DataFrame) -> FrameJson:
    """The frame's columns as JSON-ready values (its index is not kept)."""
    return FrameJson(
        columns=[
            ColumnJson(
                name=str(name),
                dtype=str(frame[name].dtype),
                values=[_json_value(value) for value in frame[name].tolist()],
            )
            for name in frame.columns
        ]
    )


def _column(column: ColumnJson) -> pd.Series:
    if column.dtype.startswith("datetime64"):
        values = pd.Series(column.values, dtype="object")
        return pd.Series(pd.to_datetime(values, format="ISO8601"), dtype=column.dtype)
    if column.dtype == "object":
        return pd.Series(column.values, dtype="object")
    return pd.Series(column.values, dtype=column.dtype)


def frame_from_json(data: FrameJson) -> pd.DataFrame:
    """The DataFrame ``frame_to_json`` described, with the same columns and dtypes."""
    return pd.DataFrame(
        {column.name: _column(column) for column in data.columns},
        columns=[column.name for column in data.columns],
    )


class DashboardJson(BaseModel):
    """A ``Dashboard`` on the wire: the two headlines and every frame."""

    headline: Headline
    previous: Headline | None
    frames: dict[str, FrameJson]


class CommentsPageJson(BaseModel):
    """A ``CommentsPage`` on the wire."""

    rows: FrameJson
    total: int
    page: int
    page_size: int


DASHBOARD_FRAMES = [field.name for field in fields(Dashboard) if field.name not in ("headline", "previous")]


def dashboard_to_json(dashboard: Dashboard) -> DashboardJson:
    """A dashboard as JSON-ready models."""
    return DashboardJson(
        headline=dashboard.headline,
        previous=dashboard.previous,
        frames={name: frame_to_json(getattr(dashboard, name)) for name in DASHBOARD_FRAMES},
    )


def dashboard_from_json(data: DashboardJson) -> Dashboard:
    """The ``Dashboard`` that ``dashboard_to_json`` described."""
    missing = set(DASHBOARD_FRAMES) - set(data.frames)
    if missing:
        raise ValueError(f"the dashboard lacks the frames {sorted(missing)}")
    frames = {name: frame_from_json(data.frames[name]) for name in DASHBOARD_FRAMES}
    return Dashboard(headline=data.headline, previous=data.previous, **frames)


def comments_to_json(page: CommentsPage) -> CommentsPageJson:
    """A comments page as JSON-ready models."""
    return CommentsPageJson(
        rows=frame_to_json(page.rows), total=page.total, page=page.page, page_size=page.page_size
    )


def comments_from_json(data: CommentsPageJson) -> CommentsPage:
    """The ``CommentsPage`` that ``comments_to_json`` described."""
    return CommentsPage(
        rows=frame_from_json(data.rows), total=data.total, page=data.page, page_size=data.page_size
    )


class AnswersPageJson(BaseModel):
    """An ``AnswersPage`` on the wire."""

    rows: FrameJson
    page: int
    page_size: int
    has_more: bool


def answers_to_json(page: AnswersPage) -> AnswersPageJson:
    """A page of answers as JSON-ready models."""
    return AnswersPageJson(
        rows=frame_to_json(page.rows), page=page.page, page_size=page.page_size, has_more=page.has_more
    )


def answers_from_json(data: AnswersPageJson) -> AnswersPage:
    """The ``AnswersPage`` that ``answers_to_json`` described."""
    return AnswersPage(
        rows=frame_from_json(data.rows), page=data.page, page_size=data.page_size, has_more=data.has_more
    )
