"""Each version of a stored prompt, by the answers made with it: trust score with its interval, votes,
token use (for the cost), median latency. Aggregated in SQL over ``turns.prompt_name`` / ``prompt_number``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, case, func, select
from sqlalchemy.engine import Connection

from bilan_core.analytics.sql_parts import weight_expression
from bilan_core.analytics.trust import trust_figures
from bilan_core.clock import now_ms
from bilan_core.pricing import Price, estimate_cost
from bilan_core.store.models import TURNS, VOTES


class ModelTokens(BaseModel):
    """The tokens one model used in a version's answers."""

    model: str
    prompt_tokens: int
    completion_tokens: int


class VersionFigures(BaseModel):
    """What the answers made with one version of a prompt add up to."""

    version: int
    turns: int
    votes: int
    positive_votes: int
    trust_score: float | None
    confidence_low: float | None
    confidence_high: float | None
    median_latency_ms: float | None
    tokens: list[ModelTokens]

    @property
    def negative_votes(self) -> int:
        """The 👎 votes."""
        return self.votes - self.positive_votes

    def cost(self, prices: Mapping[str, Price]) -> float | None:
        """Estimated USD of the answers; None when a model has no price (unpriced is never free)."""
        total = sum(estimate_cost(prices, t.model, t.prompt_tokens, t.completion_tokens) for t in self.tokens)
        return None if math.isnan(total) else total


def prompt_version_figures(engine: Engine, *, project_id: int, name: str) -> list[VersionFigures]:
    """One entry per version of ``name`` that has answers, newest first."""
    of_prompt = (TURNS.c.project_id == project_id, TURNS.c.prompt_name == name)
    with engine.connect() as connection:
        tokens = connection.execute(
            select(
                TURNS.c.prompt_number,
                TURNS.c.model,
                func.count(),
                func.coalesce(func.sum(TURNS.c.prompt_tokens), 0),
                func.coalesce(func.sum(TURNS.c.completion_tokens), 0),
            )
            .where(*of_prompt, TURNS.c.prompt_number.is_not(None))
            .group_by(TURNS.c.prompt_number, TURNS.c.model)
        ).all()
        votes = _votes(connection, project_id, name)
        figures = []
        for version in sorted({row[0] for row in tokens}, reverse=True):
            rows = [row for row in tokens if row[0] == version]
            figures.append(_figures(connection, project_id, name, version, rows, votes.get(version)))
    return figures


def _votes(connection: Connection, project_id: int, name: str) -> dict[int, tuple[int, int, float, float]]:
    weight = weight_expression(connection.dialect.name, now_ms())
    positive = VOTES.c.value > 0
    rows = connection.execute(
        select(
            TURNS.c.prompt_number,
            func.count(),
            func.coalesce(func.sum(case((positive, 1), else_=0)), 0),
            func.coalesce(func.sum(weight), 0.0),
            func.coalesce(func.sum(case((positive, weight), else_=0.0)), 0.0),
        )
        .select_from(
            VOTES.join(
                TURNS, (TURNS.c.project_id == VOTES.c.project_id) & (TURNS.c.prompt_id == VOTES.c.prompt_id)
            )
        )
        .where(VOTES.c.project_id == project_id, TURNS.c.prompt_name == name)
        .group_by(TURNS.c.prompt_number)
    ).all()
    return {row[0]: (int(row[1]), int(row[2]), float(row[3]), float(row[4])) for row in rows}


def _figures(
    connection: Connection,
    project_id: int,
    name: str,
    version: int,
    rows: list[Any],
    votes: tuple[int, int, float, float] | None,
) -> VersionFigures:
    total, positive, weight, positive_weight = votes or (0, 0, 0.0, 0.0)
    trust = trust_figures(
        votes=total, positive=positive, weight=weight, positive_weight=positive_weight, first_half_positive=0
    )
    return VersionFigures(
        version=version,
        turns=sum(int(row[2]) for row in rows),
        votes=total,
        positive_votes=positive,
        trust_score=trust.trust_score,
        confidence_low=trust.low,
        confidence_high=trust.high,
        median_latency_ms=_median_latency(connection, project_id, name, version),
        tokens=[
            ModelTokens(model=row[1], prompt_tokens=int(row[3]), completion_tokens=int(row[4]))
            for row in rows
        ],
    )


def _median_latency(connection: Connection, project_id: int, name: str, version: int) -> float | None:
    timed = (
        TURNS.c.project_id == project_id,
        TURNS.c.prompt_name == name,
        TURNS.c.prompt_number == version,
        TURNS.c.latency_ms.is_not(None),
    )
    count = connection.execute(select(func.count()).where(*timed)).scalar_one()
    if not count:
        return None
    rank = math.ceil(count / 2) - 1  # nearest rank, as the Analytics percentiles
    query = select(TURNS.c.latency_ms).where(*timed).order_by(TURNS.c.latency_ms).offset(rank).limit(1)
    return float(connection.execute(query).scalar_one())
