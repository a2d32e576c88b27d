"""Storing a request's events: every new event in ``events``, and turns, votes and conversations from them.

All set-based: one multi-row ``INSERT … ON CONFLICT`` per table per request, in one transaction. Events
already stored (same project and eventId) are skipped together with their effects, so a client may
re-send a batch safely. Rows are written in key order so concurrent requests do not deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Table,
    bindparam,
    case,
    column,
    delete,
    func,
    or_,
    select,
    update,
)

from bilan_core.remote.wire_events import (
    CANCELLED,
    CONVERSATION_ENDED,
    CONVERSATION_STARTED,
    TURN_COMPLETED,
    TURN_EVENT_TYPES,
    TURN_FAILED,
    TURN_STARTED,
    VOTE_CAST,
    VOTE_CLEARED,
    IngestReply,
    IngestStats,
)
from bilan_core.server.validation import (
    MAX_ID_LENGTH,
    Accepted,
    number_property,
    text_property,
    validate_events,
)
from bilan_core.store.conversations import clean_title
from bilan_core.store.models import Conversation, Event, Turn, Vote
from bilan_core.store.upsert import insert_for
from bilan_core.store.votes import validate_comment

UNKNOWN_MODEL = "unknown"
PENDING = "pending"  # a turn whose turn_completed / turn_failed has not arrived yet
TURNS: Table = Turn.__table__  # type: ignore[attr-defined]
VOTES: Table = Vote.__table__  # type: ignore[attr-defined]
EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
CONVERSATIONS: Table = Conversation.__table__  # type: ignore[attr-defined]
TURN_COLUMNS = [column.name for column in TURNS.columns if column.name != "id"]
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
VOTE_COLUMNS = (
    "project_id",
    "prompt_id",
    "user_id",
    "value",
    "comment",
    "team_session",
    "model",
    "prompt_version",
    "created_ms",
    "updated_ms",
)
VOTE_LABELS = ("model", "prompt_version")  # copied from the vote's turn
CONVERSATION_COLUMNS = (
    "project_id",
    "conversation_id",
    "user_id",
    "title",
    "team_session",
    "status",
    "created_ms",
    "updated_ms",
    "ended_ms",
)
TURN_KEEP_IF_NULL = [
    name
    for name in TURN_COLUMNS
    if name not in ("project_id", "prompt_id", "user_id", "model", "status", "created_ms")
]


def ingest(engine: Engine, *, project_id: int, items: list[Any], check_text: bool) -> IngestReply:
    """Validate and store a request's events for a project; the reply counts what happened."""
    accepted, errors = validate_events(items, check_text=check_text)
    unique = _first_of_each_id(accepted)
    with engine.begin() as connection:
        stored = _insert_events(connection, project_id, unique)
        new = [item for item in unique if item.event.eventId in stored]
        touched = _upsert_turns(connection, project_id, new) | _apply_votes(connection, project_id, new)
        _upsert_conversations(connection, project_id, new)
        _touch_conversations(connection, project_id, new)
        _label_votes(connection, project_id, touched)
    processed = len(new)
    return IngestReply(
        success=True,
        message=f"Processed {processed} events",
        stats=IngestStats(
            processed=processed, skipped=len(accepted) - processed, errors=len(errors), total=len(items)
        ),
        errors=errors,
    )


def _first_of_each_id(accepted: list[Accepted]) -> list[Accepted]:
    seen: dict[str, Accepted] = {}
    for item in accepted:
        seen.setdefault(item.event.eventId, item)
    return sorted(seen.values(), key=lambda item: item.event.eventId)


def _least(dialect: str, *values: Any) -> Any:
    return func.least(*values) if dialect == "postgresql" else func.min(*values)


def _greatest(dialect: str, *values: Any) -> Any:
    return func.greatest(*values) if dialect == "postgresql" else func.max(*values)


@cache
def _insert_from(dialect: str, table: Table, names: tuple[str, ...], from_turn: tuple[str, ...] = ()) -> Any:
    """An ``INSERT … ON CONFLICT``-able statement taking its rows from ``_rows_parameters``.

    On PostgreSQL the rows travel as one JSON parameter that ``json_to_recordset`` expands: one small
    statement whatever the batch size. (A multi-row VALUES list costs the driver a parse of thousands
    of parameters; an executemany costs one statement per row.) There, the ``from_turn`` columns are
    read from the turn with the row's prompt id, if it is stored. Elsewhere it is an executemany.
    Statements are built once per table and dialect.
    """
    statement = insert_for(dialect, table)
    if dialect != "postgresql":
        return statement
    source = (
        func.json_to_recordset(bindparam("batch_rows", type_=JSON))
        .table_valued(*(column(name, table.c[name].type) for name in names))
        .render_derived(name="batch", with_types=True)
    )
    values = [_of_turn(source, name) if name in from_turn else source.c[name] for name in names]
    return statement.from_select(list(names), select(*values))


def _of_turn(source: Any, name: str) -> Any:
    of_row = (TURNS.c.project_id == source.c.project_id, TURNS.c.prompt_id == source.c.prompt_id)
    return select(TURNS.c[name]).where(*of_row).scalar_subquery()


def _rows_parameters(connection: Connection, rows: list[dict[str, Any]]) -> Any:
    return {"batch_rows": rows} if connection.dialect.name == "postgresql" else rows


@cache
def _events_statement(dialect: str) -> Any:
    return (
        _insert_from(dialect, EVENTS, EVENT_COLUMNS)
        .on_conflict_do_nothing(index_elements=["project_id", "event_id"])
        .returning(EVENTS.c.event_id)
    )


def _insert_events(connection: Connection, project_id: int, items: list[Accepted]) -> set[str]:
    """Insert the events not stored yet; the eventIds that were new."""
    if not items:
        return set()
    rows = [
        {
            "project_id": project_id,
            "event_id": item.event.eventId,
            "event_type": item.event.eventType,
            "user_id": item.event.userId,
            "conversation_id": item.conversation_id,
            "timestamp_ms": item.event.timestamp,
            "properties": item.event.properties,
            "prompt_text": item.event.promptText,
            "ai_response": item.event.aiResponse,
        }
        for item in items
    ]
    statement = _events_statement(connection.dialect.name)
    return set(connection.execute(statement, _rows_parameters(connection, rows)).scalars())


def _json_of_type(value: object, kind: type) -> Any:
    return value if isinstance(value, kind) else None


def _turn_fragment(item: Accepted) -> dict[str, Any]:
    event, props = item.event, item.event.properties
    fragment: dict[str, Any] = {
        "prompt_id": item.subject,
        "user_id": event.userId,
        "conversation_id": item.conversation_id,
        "model": text_property(props, "model", "modelUsed", limit=MAX_ID_LENGTH),
        "prompt_version": text_property(props, "systemPromptVersion", limit=MAX_ID_LENGTH),
        "provider": text_property(props, "provider", limit=MAX_ID_LENGTH),
        "team_session": text_property(props, "team_session", limit=MAX_ID_LENGTH),
        "prompt_text": event.promptText,
    }
    if event.eventType == TURN_STARTED:
        started = number_property(props, "startedAt")
        fragment["created_ms"] = int(started) if started is not None else event.timestamp
        for name, kind in (("messages", list), ("parameters", dict), ("tools", list), ("route", dict)):
            fragment[name] = _json_of_type(props.get(name), kind)
        return fragment
    duration = number_property(
        props, "responseTime" if event.eventType == TURN_COMPLETED else "attemptedDuration"
    )
    latency_ms = duration * 1000.0 if duration is not None else None
    fragment["latency_ms"] = latency_ms
    fragment["created_ms"] = max(0, event.timestamp - round(latency_ms or 0))
    fragment["finish_reason"] = text_property(props, "finish_reason", limit=40)
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        fragment[name] = props.get(name)
    fragment["ttft_ms"] = number_property(props, "ttft_ms")
    fragment["tool_calls"] = _json_of_type(props.get("tool_calls"), list)
    if event.eventType == TURN_FAILED:
        fragment["status"] = "error"
        fragment["error_type"] = text_property(props, "errorType", limit=40) or "unknown_error"
        fragment["error_message"] = text_property(props, "errorMessage", limit=None)
        return fragment
    fragment["status"] = CANCELLED if props.get("status") == CANCELLED else "ok"
    fragment["response"] = event.aiResponse
    return fragment


def _merge(
    into: dict[str, Any],
    fragment: dict[str, Any],
    *,
    earliest: Iterable[str] = (),
    latest: Iterable[str] = (),
) -> None:
    for name, value in fragment.items():
        if value is None:
            continue
        if name in earliest and into.get(name) is not None:
            into[name] = min(into[name], value)
        elif name in latest and into.get(name) is not None:
            into[name] = max(into[name], value)
        else:
            into[name] = value


def _upsert_turns(connection: Connection, project_id: int, items: list[Accepted]) -> set[str]:
    merged: dict[str, dict[str, Any]] = {}
    for item in items:
        if item.event.eventType in TURN_EVENT_TYPES:
            assert item.subject is not None
            _merge(merged.setdefault(item.subject, {}), _turn_fragment(item), earliest=("created_ms",))
    if not merged:
        return set()
    rows = []
    for prompt_id in sorted(merged):
        row = dict.fromkeys(TURN_COLUMNS)
        row.update(merged[prompt_id], project_id=project_id)
        row["model"] = row["model"] or UNKNOWN_MODEL
        row["status"] = row["status"] or PENDING
        rows.append(row)
    connection.execute(_turns_statement(connection.dialect.name), _rows_parameters(connection, rows))
    return set(merged)


@cache
def _turns_statement(dialect: str) -> Any:
    statement = _insert_from(dialect, TURNS, tuple(TURN_COLUMNS))
    new = statement.excluded
    changes: dict[str, Any] = {name: func.coalesce(new[name], TURNS.c[name]) for name in TURN_KEEP_IF_NULL}
    changes["user_id"] = new.user_id
    changes["model"] = case((new.model == UNKNOWN_MODEL, TURNS.c.model), else_=new.model)
    changes["status"] = case((new.status == PENDING, TURNS.c.status), else_=new.status)
    changes["created_ms"] = _least(dialect, TURNS.c.created_ms, new.created_ms)
    return statement.on_conflict_do_update(index_elements=["project_id", "prompt_id"], set_=changes)


def _apply_votes(connection: Connection, project_id: int, items: list[Accepted]) -> set[str]:
    """Cast and cleared votes; per user and turn only the latest action of the request counts.

    Returns the turns whose votes still need their model and prompt version (SQLite only).
    """
    latest: dict[tuple[str, str], Accepted] = {}
    for item in sorted(items, key=lambda one: (one.event.timestamp, one.index)):
        if item.event.eventType in (VOTE_CAST, VOTE_CLEARED):
            assert item.subject is not None
            latest[(item.subject, item.event.userId)] = item
    casts = [
        _vote_row(project_id, item)
        for key, item in sorted(latest.items())
        if item.event.eventType == VOTE_CAST
    ]
    clears = [
        {"p_prompt": prompt_id, "p_user": user_id, "p_at": item.event.timestamp}
        for (prompt_id, user_id), item in sorted(latest.items())
        if item.event.eventType == VOTE_CLEARED
    ]
    if casts:
        connection.execute(_votes_statement(connection.dialect.name), _rows_parameters(connection, casts))
    if clears:
        connection.execute(
            delete(VOTES).where(
                VOTES.c.project_id == project_id,
                VOTES.c.prompt_id == bindparam("p_prompt"),
                VOTES.c.user_id == bindparam("p_user"),
                VOTES.c.updated_ms <= bindparam("p_at"),
            ),
            clears,
        )
    if connection.dialect.name == "postgresql":
        return set()  # labelled from their turns as they were inserted
    return {row["prompt_id"] for row in casts}


@cache
def _votes_statement(dialect: str) -> Any:
    statement = _insert_from(dialect, VOTES, VOTE_COLUMNS, from_turn=VOTE_LABELS)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["project_id", "prompt_id", "user_id"],
        set_={
            "value": new.value,
            "comment": new.comment,
            "team_session": new.team_session,
            "updated_ms": new.updated_ms,
            **{name: func.coalesce(new[name], VOTES.c[name]) for name in VOTE_LABELS},
        },
        where=VOTES.c.updated_ms <= new.updated_ms,
    )


def _vote_row(project_id: int, item: Accepted) -> dict[str, Any]:
    props = item.event.properties
    return {
        "project_id": project_id,
        "prompt_id": item.subject,
        "user_id": item.event.userId,
        "value": props["value"],
        "comment": validate_comment(props.get("comment")),
        "team_session": text_property(props, "team_session", limit=MAX_ID_LENGTH),
        "model": None,
        "prompt_version": None,
        "created_ms": item.event.timestamp,
        "updated_ms": item.event.timestamp,
    }


def _label_votes(connection: Connection, project_id: int, prompt_ids: set[str]) -> None:
    """Copy model and prompt version from turns onto their votes (votes may arrive first)."""
    if not prompt_ids:
        return
    connection.execute(
        update(VOTES)
        .where(
            VOTES.c.project_id == project_id,
            VOTES.c.prompt_id.in_(sorted(prompt_ids)),
            TURNS.c.project_id == project_id,
            TURNS.c.prompt_id == VOTES.c.prompt_id,
            or_(
                VOTES.c.model.is_distinct_from(TURNS.c.model),
                VOTES.c.prompt_version.is_distinct_from(TURNS.c.prompt_version),
            ),
        )
        .values(model=TURNS.c.model, prompt_version=TURNS.c.prompt_version)
    )


def _conversation_fragment(item: Accepted) -> dict[str, Any]:
    event, props = item.event, item.event.properties
    if event.eventType == CONVERSATION_STARTED:
        started = number_property(props, "started_at")
        moment = int(started) if started is not None else event.timestamp
        return {
            "user_id": event.userId,
            "title": clean_title(text_property(props, "title", limit=None)),
            "team_session": text_property(props, "team_session", limit=MAX_ID_LENGTH),
            "created_ms": moment,
            "updated_ms": moment,
        }
    ended = number_property(props, "ended_at")
    moment = int(ended) if ended is not None else event.timestamp
    return {
        "user_id": event.userId,
        "status": text_property(props, "status", limit=40) or "completed",
        "created_ms": moment,
        "updated_ms": moment,
        "ended_ms": moment,
    }


def _upsert_conversations(connection: Connection, project_id: int, items: list[Accepted]) -> None:
    merged: dict[str, dict[str, Any]] = {}
    for item in items:
        if item.event.eventType in (CONVERSATION_STARTED, CONVERSATION_ENDED):
            assert item.subject is not None
            _merge(
                merged.setdefault(item.subject, {}),
                _conversation_fragment(item),
                earliest=("created_ms",),
                latest=("updated_ms",),
            )
    if not merged:
        return
    rows = [
        {
            "project_id": project_id,
            "conversation_id": conversation_id,
            "user_id": fields["user_id"],
            "title": fields.get("title"),
            "team_session": fields.get("team_session"),
            "status": fields.get("status", "active"),
            "created_ms": fields["created_ms"],
            "updated_ms": fields["updated_ms"],
            "ended_ms": fields.get("ended_ms"),
        }
        for conversation_id, fields in sorted(merged.items())
    ]
    connection.execute(_conversations_statement(connection.dialect.name), _rows_parameters(connection, rows))


def _touch_conversations(connection: Connection, project_id: int, items: list[Accepted]) -> None:
    """As locally: a turn moves its conversation's updated time on, and the first prompt titles it."""
    touched: dict[str, dict[str, Any]] = {}
    for item in sorted(items, key=lambda item: item.event.timestamp):
        if item.event.eventType not in TURN_EVENT_TYPES or not item.conversation_id:
            continue
        entry = touched.setdefault(item.conversation_id, {"moment": 0, "first_prompt": None})
        entry["moment"] = item.event.timestamp
        if entry["first_prompt"] is None and item.event.promptText:
            entry["first_prompt"] = clean_title(item.event.promptText)
    if touched:
        connection.execute(
            _touch_statement(connection.dialect.name),
            [{"project": project_id, "conversation": key, **entry} for key, entry in sorted(touched.items())],
        )


@cache
def _touch_statement(dialect: str) -> Any:
    table = CONVERSATIONS.c
    return (
        update(CONVERSATIONS)
        .where(table.project_id == bindparam("project"), table.conversation_id == bindparam("conversation"))
        .values(
            updated_ms=_greatest(dialect, table.updated_ms, bindparam("moment")),
            title=func.coalesce(table.title, bindparam("first_prompt")),
        )
    )


@cache
def _conversations_statement(dialect: str) -> Any:
    statement = _insert_from(dialect, CONVERSATIONS, CONVERSATION_COLUMNS)
    new = statement.excluded
    table = CONVERSATIONS.c
    return statement.on_conflict_do_update(
        index_elements=["project_id", "conversation_id"],
        set_={
            "title": func.coalesce(new.title, table.title),
            "team_session": func.coalesce(new.team_session, table.team_session),
            "created_ms": _least(dialect, table.created_ms, new.created_ms),
            "updated_ms": _greatest(dialect, table.updated_ms, new.updated_ms),
            "status": case((new.ended_ms.is_(None), table.status), else_=new.status),
            "ended_ms": func.coalesce(new.ended_ms, table.ended_ms),
        },
    )
