"""Storing a request's events: every new event in ``events``, and turns, votes and conversations from them.

This module parses the events into rows; the store's write functions, the ones local mode uses,
write them. All set-based: one multi-row ``INSERT … ON CONFLICT`` per table per request, in one
transaction. Events already stored (same project and eventId) are skipped together with their
effects, so a client may re-send a batch safely. Rows are written in key order so concurrent
requests do not deadlock. If the database refuses a batch's data, its halves are stored apart until
the event it refuses is alone: that event gets an error with the database's reason, the rest is stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, get_args

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from bilan_core.limits import MAX_LABEL_LENGTH
from bilan_core.privacy.capture import FULL_CAPTURE, CapturePolicy
from bilan_core.privacy.levels import CaptureLevel
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
    CaptureNotice,
    EventError,
    IngestReply,
    IngestStats,
)
from bilan_core.server.validation import (
    Accepted,
    number_property,
    text_property,
    validate_events,
)
from bilan_core.store import rollups
from bilan_core.store.conversations import (
    ConversationTouch,
    clean_title,
    touch_conversations,
    upsert_conversations,
)
from bilan_core.store.db_errors import is_transient, storage_refusal
from bilan_core.store.events import insert_events
from bilan_core.store.turns import merge_turns
from bilan_core.store.votes import VoteClear, clear_votes, upsert_votes, vote_row


def ingest(
    engine: Engine,
    *,
    project_id: int,
    items: list[Any],
    check_text: bool,
    capture: CapturePolicy = FULL_CAPTURE,
) -> IngestReply:
    """Validate, lower to the project's capture level and store a request's events; the reply counts them."""
    accepted, errors = validate_events(items, check_text=check_text)
    accepted, lowered = _at_capture_level(accepted, capture)
    processed, refused = _store_isolating(engine, project_id, _first_of_each_id(accepted))
    errors = sorted([*errors, *refused], key=lambda error: error.index)
    return IngestReply(
        success=True,
        message=f"Processed {processed} events",
        stats=IngestStats(
            processed=processed,
            skipped=len(accepted) - processed - len(refused),
            errors=len(errors),
            total=len(items),
        ),
        errors=errors,
        capture=_capture_notice(capture.level, lowered),
    )


def _at_capture_level(accepted: list[Accepted], capture: CapturePolicy) -> tuple[list[Accepted], int]:
    """Each event with only what the project's level keeps; how many were lowered."""
    kept, lowered = [], 0
    for item in accepted:
        event = item.event  # the fields wire_update reads, not a deep copy of the event (model_dump)
        fields = {name: getattr(event, name) for name in ("userId", "properties", "promptText", "aiResponse")}
        update = capture.wire_update(fields)
        kept.append(dataclasses.replace(item, event=event.model_copy(update=update.fields)))
        lowered += update.lowered
    return kept, lowered


def _capture_notice(level: CaptureLevel, lowered: int) -> CaptureNotice | None:
    if not lowered:
        return None
    return CaptureNotice(
        level=level,
        lowered=lowered,
        message=f"this project keeps at most the {level!r} capture level: {lowered} event(s) that asked "
        f"for more were stored at {level!r}",
    )


def _store_isolating(engine: Engine, project_id: int, items: list[Accepted]) -> tuple[int, list[EventError]]:
    """Store events in one transaction; when the database refuses their data, store each half on its
    own, so only an event it refuses by itself fails (with the database's reason) and the rest are
    stored. A lock or a lost connection is raised as it is: the whole request may be retried."""
    try:
        return _store(engine, project_id, items), []
    except DBAPIError as exc:
        if is_transient(exc):
            raise
        if len(items) == 1:
            return 0, [
                EventError(index=items[0].index, eventId=items[0].event.eventId, message=storage_refusal(exc))
            ]
        middle = len(items) // 2
        first, first_refused = _store_isolating(engine, project_id, items[:middle])
        second, second_refused = _store_isolating(engine, project_id, items[middle:])
        return first + second, first_refused + second_refused


def _store(engine: Engine, project_id: int, items: list[Accepted]) -> int:
    """Store the events not stored yet with their turns, votes and conversations; how many were new."""
    with engine.begin() as connection:
        stored = _insert_events(connection, project_id, items)
        new = [item for item in items if item.event.eventId in stored]
        with rollups.batch(connection, project_id, {item.subject for item in new if item.subject}):
            merge_turns(connection, project_id, _turns_of(new))
            _apply_votes(connection, project_id, new)
        upsert_conversations(connection, project_id, _conversations_of(new))
        touch_conversations(connection, project_id, _touches_of(new))
    return len(new)


def _first_of_each_id(accepted: list[Accepted]) -> list[Accepted]:
    seen: dict[str, Accepted] = {}
    for item in accepted:
        seen.setdefault(item.event.eventId, item)
    return sorted(seen.values(), key=lambda item: item.event.eventId)


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
    return insert_events(connection, rows)


def _json_of_type(value: object, kind: type) -> Any:
    return value if isinstance(value, kind) else None


def _turn_fragment(item: Accepted) -> dict[str, Any]:
    event, props = item.event, item.event.properties
    fragment: dict[str, Any] = {
        "prompt_id": item.subject,
        "user_id": event.userId,
        "conversation_id": item.conversation_id,
        "model": text_property(props, "model", "modelUsed", limit=MAX_LABEL_LENGTH),
        "prompt_version": text_property(props, "systemPromptVersion", limit=MAX_LABEL_LENGTH),
        "prompt_name": text_property(props, "promptName", limit=MAX_LABEL_LENGTH),
        "prompt_number": props.get("promptVersion"),
        "regenerated_from": text_property(props, "regeneratedFrom", limit=MAX_LABEL_LENGTH),
        "provider": text_property(props, "provider", limit=MAX_LABEL_LENGTH),
        "team_session": text_property(props, "team_session", limit=MAX_LABEL_LENGTH),
        "prompt_text": event.promptText,
        "capture": props.get("capture") if props.get("capture") in get_args(CaptureLevel) else None,
        "prompt_chars": props.get("promptChars"),
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
    fragment["response_chars"] = props.get("responseChars")
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


def _turns_of(items: list[Accepted]) -> dict[str, dict[str, Any]]:
    """Each turn's facts from its events in the request, merged (the earliest start wins)."""
    merged: dict[str, dict[str, Any]] = {}
    for item in items:
        if item.event.eventType in TURN_EVENT_TYPES:
            assert item.subject is not None
            _merge(merged.setdefault(item.subject, {}), _turn_fragment(item), earliest=("created_ms",))
    return merged


def _apply_votes(connection: Connection, project_id: int, items: list[Accepted]) -> None:
    """Cast and cleared votes; per user and turn only the latest action of the request counts."""
    latest: dict[tuple[str, str], Accepted] = {}
    for item in sorted(items, key=lambda one: (one.event.timestamp, one.index)):
        if item.event.eventType in (VOTE_CAST, VOTE_CLEARED):
            assert item.subject is not None
            latest[(item.subject, item.event.userId)] = item
    actions = sorted(latest.items())
    casts = [_vote_row(project_id, item) for _, item in actions if item.event.eventType == VOTE_CAST]
    clears = [
        VoteClear(prompt_id, user_id, item.event.timestamp)
        for (prompt_id, user_id), item in actions
        if item.event.eventType == VOTE_CLEARED
    ]
    upsert_votes(connection, project_id, casts)
    clear_votes(connection, project_id, clears)


def _vote_row(project_id: int, item: Accepted) -> dict[str, Any]:
    props = item.event.properties
    assert item.subject is not None
    return vote_row(
        project_id,
        prompt_id=item.subject,
        user_id=item.event.userId,
        value=props["value"],
        comment=props.get("comment"),
        team_session=text_property(props, "team_session", limit=MAX_LABEL_LENGTH),
        at_ms=item.event.timestamp,
    )


def _conversation_fragment(item: Accepted) -> dict[str, Any]:
    event, props = item.event, item.event.properties
    if event.eventType == CONVERSATION_STARTED:
        started = number_property(props, "started_at")
        moment = int(started) if started is not None else event.timestamp
        return {
            "user_id": event.userId,
            "title": clean_title(text_property(props, "title", limit=None)),
            "team_session": text_property(props, "team_session", limit=MAX_LABEL_LENGTH),
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


def _conversations_of(items: list[Accepted]) -> list[dict[str, Any]]:
    """One row per conversation started or ended in the request, its events merged."""
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
    return [
        {
            "conversation_id": conversation_id,
            "user_id": fields["user_id"],
            "title": fields.get("title"),
            "team_session": fields.get("team_session"),
            "status": fields.get("status", "active"),
            "created_ms": fields["created_ms"],
            "updated_ms": fields["updated_ms"],
            "ended_ms": fields.get("ended_ms"),
        }
        for conversation_id, fields in merged.items()
    ]


def _touches_of(items: list[Accepted]) -> list[ConversationTouch]:
    """Per conversation, its latest turn event's time and the first prompt of the request's turns."""
    touched: dict[str, ConversationTouch] = {}
    for item in sorted(items, key=lambda item: item.event.timestamp):
        if item.event.eventType not in TURN_EVENT_TYPES or not item.conversation_id:
            continue
        earlier = touched.get(item.conversation_id)
        prompt = earlier.prompt if earlier and earlier.prompt else clean_title(item.event.promptText)
        touched[item.conversation_id] = ConversationTouch(item.conversation_id, item.event.timestamp, prompt)
    return list(touched.values())
