"""The server's reads, always scoped to one project: stored events and overview counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, Text, and_, case, cast, func, or_, select
from sqlalchemy.sql import ColumnElement

from bilan_core.store.models import CONVERSATIONS, EVENTS, TURNS, VOTES


class StoredEvent(BaseModel):
    """One stored event, in the wire format's field names."""

    eventId: str
    eventType: str
    userId: str
    timestamp: int
    conversationId: str | None
    properties: dict[str, Any] | None
    promptText: str | None
    aiResponse: str | None


class EventPage(BaseModel):
    """A page of events, newest first; ``next_offset`` is None on the last page."""

    events: list[StoredEvent]
    limit: int
    offset: int
    next_offset: int | None


class Overview(BaseModel):
    """Headline counts of a project (in a time range when one is given)."""

    events: int
    users: int
    turns: int
    turns_ok: int
    turns_error: int
    turns_pending: int
    votes: int
    positive_votes: int
    negative_votes: int
    conversations: int


@dataclass(frozen=True, kw_only=True)
class EventQuery:
    """Which events to list."""

    project_id: int
    since: int | None = None
    until: int | None = None
    event_types: tuple[str, ...] = ()
    user_id: str | None = None
    text: str | None = None
    limit: int = 100
    offset: int = 0

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions on the events table."""
        found = [
            EVENTS.c.project_id == self.project_id,
            *_time_range(EVENTS.c.timestamp_ms, self.since, self.until),
        ]
        if self.event_types:
            found.append(EVENTS.c.event_type.in_(self.event_types))
        if self.user_id is not None:
            found.append(EVENTS.c.user_id == self.user_id)
        if self.text:
            pattern = "%" + self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            found.append(
                or_(
                    EVENTS.c.prompt_text.ilike(pattern, escape="\\"),
                    EVENTS.c.ai_response.ilike(pattern, escape="\\"),
                    cast(EVENTS.c.properties, Text).ilike(pattern, escape="\\"),
                )
            )
        return found


def _time_range(column: Any, since: int | None, until: int | None) -> list[ColumnElement[bool]]:
    found = []
    if since is not None:
        found.append(column >= since)
    if until is not None:
        found.append(column < until)
    return found


def list_events(engine: Engine, query: EventQuery) -> EventPage:
    """One page of a project's events matching ``query``, newest first."""
    statement = (
        select(EVENTS)
        .where(and_(*query.conditions()))
        .order_by(EVENTS.c.timestamp_ms.desc(), EVENTS.c.id.desc())
        .limit(query.limit + 1)
        .offset(query.offset)
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).mappings().all()
    events = [
        StoredEvent(
            eventId=row["event_id"],
            eventType=row["event_type"],
            userId=row["user_id"],
            timestamp=row["timestamp_ms"],
            conversationId=row["conversation_id"],
            properties=row["properties"],
            promptText=row["prompt_text"],
            aiResponse=row["ai_response"],
        )
        for row in rows[: query.limit]
    ]
    more = len(rows) > query.limit
    return EventPage(
        events=events,
        limit=query.limit,
        offset=query.offset,
        next_offset=query.offset + query.limit if more else None,
    )


def overview(
    engine: Engine, *, project_id: int, since: int | None = None, until: int | None = None
) -> Overview:
    """Counts of events, users, turns by status, votes by sign and conversations for a project."""
    turn_status = TURNS.c.status
    vote_value = VOTES.c.value
    with engine.connect() as connection:
        events, users = connection.execute(
            select(func.count(), func.count(func.distinct(EVENTS.c.user_id))).where(
                EVENTS.c.project_id == project_id, *_time_range(EVENTS.c.timestamp_ms, since, until)
            )
        ).one()
        turns, ok, error, pending = connection.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((turn_status == "ok", 1), else_=0)), 0),
                func.coalesce(func.sum(case((turn_status == "error", 1), else_=0)), 0),
                func.coalesce(func.sum(case((turn_status == "pending", 1), else_=0)), 0),
            ).where(TURNS.c.project_id == project_id, *_time_range(TURNS.c.created_ms, since, until))
        ).one()
        votes, positive = connection.execute(
            select(func.count(), func.coalesce(func.sum(case((vote_value > 0, 1), else_=0)), 0)).where(
                VOTES.c.project_id == project_id, *_time_range(VOTES.c.created_ms, since, until)
            )
        ).one()
        conversations = connection.execute(
            select(func.count()).where(
                CONVERSATIONS.c.project_id == project_id,
                *_time_range(CONVERSATIONS.c.created_ms, since, until),
            )
        ).scalar_one()
    return Overview(
        events=events,
        users=users,
        turns=turns,
        turns_ok=ok,
        turns_error=error,
        turns_pending=pending,
        votes=votes,
        positive_votes=positive,
        negative_votes=votes - positive,
        conversations=conversations,
    )
