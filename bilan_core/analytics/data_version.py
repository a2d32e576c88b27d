"""One change marker for everything the analytics show, the same in local and server mode.

The Analytics page caches its figures under this marker, so it must change whenever a turn, a vote or a
conversation is added, changed or deleted (a deleted conversation takes its turns and votes with it).
For each of the four tables, scoped to the project: the row count (deletes lower it), the newest id
(an insert raises it) and the latest time (a changed vote moves ``updated_ms`` on; a turn touches its
conversation; on a server, a turn's outcome that arrives in a later request adds an event).
"""

from __future__ import annotations

from sqlalchemy import Engine, Table, func, select
from sqlalchemy.sql import ColumnElement, Executable

from bilan_core.store.models import CONVERSATIONS, EVENTS, LOCAL_PROJECT, TURNS, VOTES


def data_version(engine: Engine, *, project_id: int = LOCAL_PROJECT) -> tuple[int, ...]:
    """A cheap fingerprint of the project's turns, votes, conversations and events; any change changes it."""
    statements = [
        _count_newest_latest(VOTES, VOTES.c.updated_ms, project_id),
        _count_newest_latest(TURNS, TURNS.c.created_ms, project_id),
        _count_newest_latest(CONVERSATIONS, CONVERSATIONS.c.updated_ms, project_id),
        _count_newest_latest(EVENTS, EVENTS.c.timestamp_ms, project_id),
    ]
    with engine.connect() as connection:
        rows = [connection.execute(statement).one() for statement in statements]
    return tuple(int(value or 0) for row in rows for value in row)


def _count_newest_latest(table: Table, moment: ColumnElement[int], project_id: int) -> Executable:
    scoped = table.c.project_id == project_id
    return select(func.count(), func.max(table.c.id), func.max(moment)).where(scoped)
