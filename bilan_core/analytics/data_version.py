"""One change marker for everything the analytics show, the same in local and server mode.

The Analytics page caches its figures under this marker, so it must change whenever a turn, a vote or a
conversation is added, changed or deleted (a deleted conversation takes its turns and votes with it).
Every part is scoped to the project (a project learns nothing of another's activity) and is either a
covering-index count or one index lookup:
- the counts of votes, turns, conversations and events (inserts raise them, deletes and cleared votes
  lower them; on a server, a turn's outcome arriving in a later request adds an event);
- the latest vote change (a changed vote moves ``updated_ms`` on) and the newest turn.
"""

from __future__ import annotations

from sqlalchemy import Engine, Table, func, select
from sqlalchemy.sql import ColumnElement

from bilan_core.store.models import CONVERSATIONS, EVENTS, LOCAL_PROJECT, TURNS, VOTES


def data_version(engine: Engine, *, project_id: int = LOCAL_PROJECT) -> tuple[int, ...]:
    """A cheap fingerprint of the project's turns, votes, conversations and events; any change changes it."""
    parts = [
        _scoped(VOTES, func.count(), project_id),
        _scoped(VOTES, func.max(VOTES.c.updated_ms), project_id),
        _scoped(TURNS, func.count(), project_id),
        _scoped(TURNS, func.max(TURNS.c.created_ms), project_id),
        _scoped(CONVERSATIONS, func.count(), project_id),
        _scoped(EVENTS, func.count(), project_id),
    ]
    with engine.connect() as connection:
        row = connection.execute(select(*parts)).one()
    return tuple(int(value or 0) for value in row)


def _scoped(table: Table, aggregate: ColumnElement[int], project_id: int) -> ColumnElement[int]:
    # One scalar subquery per figure, so each can use its own index (counts scan a covering index,
    # a max reads the end of a (project_id, time) index).
    return select(aggregate).where(table.c.project_id == project_id).scalar_subquery()
