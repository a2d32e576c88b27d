"""Trust statistics: ``get_stats`` (from the roll-ups when its filters allow) and ``get_prompt_stats``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, and_, case, func, select
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, col

from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.analytics.rollup_reads import VoteTotals, read_vote_sums, vote_totals
from bilan_core.analytics.sql_parts import weight_expression
from bilan_core.clock import now_ms, to_ms
from bilan_core.errors import UnknownPromptError
from bilan_core.store.models import LOCAL_PROJECT, Turn, Vote

TOP_FEEDBACK = 5


class Feedback(BaseModel):
    """One comment left with a vote."""

    prompt_id: str
    user_id: str
    value: int
    comment: str
    model: str | None
    created_ms: int


class Stats(BaseModel):
    """Trust figures over a set of votes; the README explains each one."""

    trust_score: float | None
    total_votes: int
    positive_votes: int
    negative_votes: int
    positive_rate: float | None
    confidence_low: float | None
    confidence_high: float | None
    recent_trend: str
    top_feedback: list[Feedback]


class PromptStats(BaseModel):
    """The votes and comments on one turn."""

    prompt_id: str
    model: str
    status: str
    total_votes: int
    positive_votes: int
    negative_votes: int
    positive_rate: float | None
    comments: list[Feedback]


@dataclass(frozen=True, kw_only=True)
class VoteFilter:
    """Which votes a figure covers; None means no restriction."""

    project_id: int = LOCAL_PROJECT
    model: str | None = None
    user_id: str | None = None
    since: datetime | int | None = None
    until: datetime | int | None = None
    conversation_id: str | None = None
    variant: str | None = None
    team_session: str | None = None
    prompt_name: str | None = None
    prompt_number: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions on the votes table."""
        found: list[ColumnElement[bool]] = [col(Vote.project_id) == self.project_id]
        if self.model is not None:
            found.append(col(Vote.model) == self.model)
        if self.user_id is not None:
            found.append(col(Vote.user_id) == self.user_id)
        if self.since is not None:
            found.append(col(Vote.created_ms) >= to_ms(self.since))
        if self.until is not None:
            found.append(col(Vote.created_ms) < to_ms(self.until))
        if self.variant is not None:
            found.append(col(Vote.prompt_version) == self.variant)
        if self.team_session is not None:
            found.append(col(Vote.team_session) == self.team_session)
        if self.conversation_id is not None:
            in_conversation = select(col(Turn.prompt_id)).where(
                col(Turn.project_id) == self.project_id, col(Turn.conversation_id) == self.conversation_id
            )
            found.append(col(Vote.prompt_id).in_(in_conversation))
        if self.prompt_name is not None:
            found.append(col(Vote.prompt_id).in_(self._turns_of_prompt()))
        return found

    def summed(self) -> AnalyticsFilter | None:
        """The same votes as an ``AnalyticsFilter`` (read from the roll-ups), or None if it cannot say it.

        A conversation and a prompt of any version are not roll-up keys; an empty range reads the rows.
        """
        if self.conversation_id is not None or (self.prompt_name is not None and self.prompt_number is None):
            return None
        start = None if self.since is None else to_ms(self.since)
        end = None if self.until is None else to_ms(self.until)
        if start is not None and end is not None and start >= end:
            return None
        return AnalyticsFilter(
            project_id=self.project_id,
            start_ms=start,
            end_ms=end,
            models=() if self.model is None else (self.model,),
            users=() if self.user_id is None else (self.user_id,),
            team_session=self.team_session,
            prompt_versions=() if self.variant is None else (self.variant,),
            prompts=() if self.prompt_name is None else (f"{self.prompt_name} v{self.prompt_number}",),
        )

    def _turns_of_prompt(self) -> Any:
        of_prompt = [col(Turn.project_id) == self.project_id, col(Turn.prompt_name) == self.prompt_name]
        if self.prompt_number is not None:
            of_prompt.append(col(Turn.prompt_number) == self.prompt_number)
        return select(col(Turn.prompt_id)).where(*of_prompt)


class StatsFilters(TypedDict, total=False):
    """The filters of ``get_stats``; each left out (or None) means no restriction."""

    model: str | None
    user_id: str | None
    since: datetime | int | None
    conversation_id: str | None
    variant: str | None
    team_session: str | None
    prompt_name: str | None
    prompt_version: int | None


TEXT_FILTERS = ("model", "user_id", "conversation_id", "variant", "team_session", "prompt_name")


def checked_vote_filter(filters: Mapping[str, object]) -> VoteFilter:
    """A ``VoteFilter`` from ``get_stats`` filters; TypeError for unknown names, ValueError for bad values."""
    unknown = sorted(set(filters) - set(StatsFilters.__annotations__))
    if unknown:
        raise TypeError(f"get_stats() got unknown filter(s): {', '.join(unknown)}")
    texts = {name: filters.get(name) for name in TEXT_FILTERS}
    since = filters.get("since")
    for name, value in texts.items():
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"{name} must be a non-empty string or None, got {value!r}")
    if since is not None and not isinstance(since, datetime) and (type(since) is not int or since < 0):
        raise ValueError(f"since must be a datetime or epoch milliseconds (an int >= 0), got {since!r}")
    number = filters.get("prompt_version")
    if number is not None and (type(number) is not int or not 1 <= number < 2**31):
        raise ValueError(f"prompt_version must be a whole number from 1 (a stored version), got {number!r}")
    if number is not None and texts["prompt_name"] is None:
        raise ValueError("prompt_version= counts one version of a prompt: pass prompt_name= too")
    return VoteFilter(since=since, prompt_number=number, **texts)  # type: ignore[arg-type]


def compute_stats(engine: Engine, where: VoteFilter, *, at_ms: int | None = None) -> Stats:
    """Every ``Stats`` figure for the votes ``where`` selects: sums from the roll-ups when the filters
    allow (else from the rows), the newest comments through the votes' time index."""
    moment = now_ms() if at_ms is None else at_ms
    conditions = and_(*where.conditions())
    summed = where.summed()
    with engine.connect() as connection:
        if summed is not None:
            totals = vote_totals(connection, summed, read_vote_sums(connection, summed, moment, voters=False))
        else:
            totals = _totals_from_rows(connection, conditions, moment)
        top = _comments(connection, conditions, TOP_FEEDBACK)
    trust = totals.trust()
    return Stats(
        trust_score=trust.trust_score,
        total_votes=totals.votes,
        positive_votes=totals.positive,
        negative_votes=totals.votes - totals.positive,
        positive_rate=trust.positive_rate,
        confidence_low=trust.low,
        confidence_high=trust.high,
        recent_trend=trust.trend,
        top_feedback=top,
    )


def _totals_from_rows(connection: Connection, conditions: ColumnElement[bool], at_ms: int) -> VoteTotals:
    positive = case((col(Vote.value) > 0, 1), else_=0)
    weight = weight_expression(connection.dialect.name, at_ms)
    total, positives, total_weight, positive_weight = connection.execute(
        select(
            func.count(),
            func.coalesce(func.sum(positive), 0),
            func.coalesce(func.sum(weight), 0.0),
            func.coalesce(func.sum(case((col(Vote.value) > 0, weight), else_=0.0)), 0.0),
        ).where(conditions)
    ).one()
    first_half = _first_half_positive(connection, conditions, total // 2)
    return VoteTotals(int(total), int(positives), float(total_weight), float(positive_weight), first_half)


def _first_half_positive(connection: Connection, conditions: ColumnElement[bool], half: int) -> int:
    if half == 0:
        return 0
    earliest = (
        select(col(Vote.value).label("value"))
        .where(conditions)
        .order_by(col(Vote.created_ms), col(Vote.id))
        .limit(half)
        .subquery()
    )
    return int(connection.execute(select(func.count()).where(earliest.c.value > 0)).scalar_one())


def _comments(session: Connection | Session, conditions: ColumnElement[bool], limit: int) -> list[Feedback]:
    rows = session.execute(
        select(
            col(Vote.prompt_id),
            col(Vote.user_id),
            col(Vote.value),
            col(Vote.comment),
            col(Vote.model),
            col(Vote.created_ms),
        )
        .where(conditions, col(Vote.comment).is_not(None), col(Vote.comment) != "")
        .order_by(col(Vote.created_ms).desc(), col(Vote.id).desc())
        .limit(limit)
    ).all()
    return [Feedback(**row._mapping) for row in rows]


def compute_prompt_stats(engine: Engine, *, prompt_id: str, project_id: int = LOCAL_PROJECT) -> PromptStats:
    """Votes and comments on one turn; UnknownPromptError if no turn has that id."""
    with Session(engine) as session:
        turn = session.execute(
            select(col(Turn.model), col(Turn.status)).where(
                col(Turn.project_id) == project_id, col(Turn.prompt_id) == prompt_id
            )
        ).first()
        if turn is None:
            raise UnknownPromptError(f"no turn has prompt id {prompt_id!r}")
        conditions = and_(col(Vote.project_id) == project_id, col(Vote.prompt_id) == prompt_id)
        total, positives = session.execute(
            select(func.count(), func.coalesce(func.sum(case((col(Vote.value) > 0, 1), else_=0)), 0)).where(
                conditions
            )
        ).one()
        comments = _comments(session, conditions, 100)
    return PromptStats(
        prompt_id=prompt_id,
        model=turn.model,
        status=turn.status,
        total_votes=total,
        positive_votes=positives,
        negative_votes=total - positives,
        positive_rate=positives / total if total else None,
        comments=comments,
    )
