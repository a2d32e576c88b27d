"""The answers behind a figure: the turns a filter selects, newest first, a page at a time, with their votes.

What a chart's click opens (``bilan_core.app.drilldown`` narrows the filter to the clicked model, day,
version, outcome or voter). Read from the rows through the ``(project_id, created_ms)`` and
``(project_id, model, created_ms)`` indexes, one page at a time: one more row than the page is read to
know whether another page follows, so no count runs over the whole range.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, case, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement
from sqlmodel import col

from bilan_core.analytics.filters import ANSWERS_PAGE_SIZE, AnalyticsFilter
from bilan_core.analytics.frames import result_frame
from bilan_core.analytics.sql_parts import shown_text
from bilan_core.limits import MAX_LABEL_LENGTH
from bilan_core.store.models import Turn, Vote

TURN_STATUSES = ("ok", "error", "cancelled")
ANSWER_COLUMNS = [
    "prompt_id",
    "created_ms",
    "model",
    "prompt_version",
    "user_id",
    "team_session",
    "conversation_id",
    "status",
    "latency_ms",
    "prompt_text",
    "response",
]


@dataclass(frozen=True)
class AnswersPage:
    """One page of answers, each with its 👍 and 👎 counts; ``has_more``: a next page exists."""

    rows: pd.DataFrame
    page: int
    page_size: int
    has_more: bool


def answers_page(
    engine: Engine,
    where: AnalyticsFilter,
    *,
    voter: str | None = None,
    sign: int | None = None,
    status: str | None = None,
    unversioned: bool = False,
    page: int = 1,
    page_size: int = ANSWERS_PAGE_SIZE,
) -> AnswersPage:
    """The turns ``where`` selects (if given: voted on by ``voter``, with a ``sign`` vote), newest first."""
    conditions = where.conditions(Turn) + _narrowing(where, voter, sign, status, unversioned)
    if type(page) is not int or page < 1 or type(page_size) is not int or not 1 <= page_size <= 500:
        raise ValueError(f"page must be >= 1 and page_size between 1 and 500, got {page!r} and {page_size!r}")
    statement = (
        select(
            *(getattr(Turn, name) for name in ANSWER_COLUMNS[:-2]),
            shown_text(col(Turn.prompt_text)),
            shown_text(col(Turn.response)),
        )
        .where(*conditions)
        .order_by(col(Turn.created_ms).desc(), col(Turn.id).desc())
        .limit(page_size + 1)
        .offset((page - 1) * page_size)
    )
    with engine.connect() as connection:
        rows = result_frame(connection, statement, ANSWER_COLUMNS)
        has_more = len(rows) > page_size
        rows = rows.iloc[:page_size].reset_index(drop=True)
        counts = _vote_counts(connection, where.project_id, rows["prompt_id"].tolist())
    rows["up"] = [counts.get(prompt_id, (0, 0))[0] for prompt_id in rows["prompt_id"]]
    rows["down"] = [counts.get(prompt_id, (0, 0))[1] for prompt_id in rows["prompt_id"]]
    rows["created"] = pd.to_datetime(rows["created_ms"].astype("int64"), unit="ms")
    return AnswersPage(rows=rows, page=page, page_size=page_size, has_more=has_more)


def _narrowing(
    where: AnalyticsFilter, voter: str | None, sign: int | None, status: str | None, unversioned: bool
) -> list[ColumnElement[bool]]:
    if sign not in (None, 1, -1):
        raise ValueError(f"sign must be 1 (👍), -1 (👎) or None, got {sign!r}")
    if status is not None and status not in TURN_STATUSES:
        raise ValueError(f"status must be one of {', '.join(TURN_STATUSES)}, got {status!r}")
    if voter is not None and (
        not isinstance(voter, str) or not voter.strip() or len(voter) > MAX_LABEL_LENGTH
    ):
        raise ValueError(f"voter must be a user id of 1 to {MAX_LABEL_LENGTH} characters, got {voter!r}")
    found: list[ColumnElement[bool]] = []
    if status is not None:
        found.append(col(Turn.status) == status)
    if unversioned:
        found.append(col(Turn.prompt_version).is_(None))
    if voter is not None or sign is not None:
        voted = select(col(Vote.prompt_id)).where(col(Vote.project_id) == where.project_id)
        if voter is not None:
            voted = voted.where(col(Vote.user_id) == voter)
        if sign is not None:
            voted = voted.where(col(Vote.value) > 0 if sign > 0 else col(Vote.value) < 0)
        found.append(col(Turn.prompt_id).in_(voted))
    return found


def _vote_counts(
    connection: Connection, project_id: int, prompt_ids: list[str]
) -> dict[str, tuple[int, int]]:
    if not prompt_ids:
        return {}
    statement = (
        select(
            col(Vote.prompt_id),
            func.sum(case((col(Vote.value) > 0, 1), else_=0)),
            func.sum(case((col(Vote.value) < 0, 1), else_=0)),
        )
        .where(col(Vote.project_id) == project_id, col(Vote.prompt_id).in_(prompt_ids))
        .group_by(col(Vote.prompt_id))
    )
    return {row[0]: (int(row[1]), int(row[2])) for row in connection.execute(statement)}
