"""Generic events recorded by ``track()``."""

from __future__ import annotations

import json
import secrets
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine

from bilan_core.clock import now_ms
from bilan_core.limits import MAX_LABEL_LENGTH, check_storable
from bilan_core.store.data_versions import mark_changed
from bilan_core.store.engine import session_scope
from bilan_core.store.models import EVENTS, LOCAL_PROJECT, Event
from bilan_core.store.upsert import insert_from, rows_parameters

MAX_EVENT_TYPE_LENGTH = 100
EVENT_COLUMNS = (
    "project_id",
    "event_id",
    "event_type",
    "user_id",
    "conversation_id",
    "timestamp_ms",
    "properties",
    "prompt_text",
    "ai_response",
)


def new_event_id(at_ms: int | None = None) -> str:
    """A unique event id in the wire format's shape: ``evt_<epoch ms>_<random>``."""
    return f"evt_{now_ms() if at_ms is None else at_ms}_{secrets.token_hex(6)}"


def validate_event_type(event_type: object) -> str:
    """Return a non-empty event type of at most 100 characters, else raise ValueError."""
    if not isinstance(event_type, str) or not event_type.strip():
        raise ValueError(f"event_type must be a non-empty string, got {event_type!r}")
    if len(event_type) > MAX_EVENT_TYPE_LENGTH:
        raise ValueError(f"event_type is longer than {MAX_EVENT_TYPE_LENGTH} characters")
    check_storable("event_type", event_type)
    return event_type.strip()


def validate_properties(properties: object) -> dict[str, Any]:
    """Return the properties as a dict (None means empty), else raise ValueError."""
    if properties is None:
        return {}
    if not isinstance(properties, dict):
        raise ValueError(f"properties must be a dict, got {type(properties).__name__}")
    try:
        json.dumps(properties, allow_nan=False)  # NaN and Infinity are not JSON: a server refuses them
    except (TypeError, ValueError) as exc:
        raise ValueError(f"properties must be JSON-serialisable: {exc}") from exc
    check_storable("properties", properties)  # the server refuses them too: one rule in both modes
    conversation_id = properties.get("conversation_id")
    if conversation_id is not None and (
        not isinstance(conversation_id, str) or not conversation_id or len(conversation_id) > MAX_LABEL_LENGTH
    ):
        raise ValueError(
            f"properties.conversation_id must be a string of 1 to {MAX_LABEL_LENGTH} characters, "
            f"got {conversation_id!r}"[:300]
        )
    return dict(properties)


def track_event(
    engine: Engine,
    *,
    event_type: str,
    user_id: str,
    properties: dict[str, Any] | None = None,
    project_id: int = LOCAL_PROJECT,
) -> Event:
    """Store one generic event and return it."""
    moment = now_ms()
    props = validate_properties(properties)
    event = Event(
        project_id=project_id,
        event_id=new_event_id(moment),
        event_type=validate_event_type(event_type),
        user_id=user_id,
        conversation_id=props.get("conversation_id"),
        timestamp_ms=moment,
        properties=props,
    )
    with session_scope(engine) as session:
        session.add(event)
        mark_changed(session.connection(), project_id)
    return event


def insert_events(connection: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the events (``EVENT_COLUMNS`` rows) not stored yet; the event ids that were new."""
    if not rows:
        return set()
    statement = _events_statement(connection.dialect.name)
    stored = set(connection.execute(statement, rows_parameters(connection, rows)).scalars())
    for project_id in {row["project_id"] for row in rows if row["event_id"] in stored}:
        mark_changed(connection, project_id)
    return stored


@cache
def _events_statement(dialect: str) -> Any:
    return (
        insert_from(dialect, EVENTS, EVENT_COLUMNS)
        .on_conflict_do_nothing(index_elements=["project_id", "event_id"])
        .returning(EVENTS.c.event_id)
    )
