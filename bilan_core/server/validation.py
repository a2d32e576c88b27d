"""Reading a ``POST /api/events`` body: its three shapes, each event's fields and type-specific rules."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bilan_core.clock import MS_PER_DAY, now_ms, to_datetime
from bilan_core.limits import MAX_LABEL_LENGTH, check_label_bytes, json_problem, unstorable_text
from bilan_core.remote.wire_events import (
    CONVERSATION_ENDED,
    CONVERSATION_STARTED,
    MAX_BATCH_EVENTS,
    MAX_TIMESTAMP_MS,
    TURN_EVENT_TYPES,
    VOTE_CAST,
    VOTE_CLEARED,
    EventError,
    WireEvent,
)
from bilan_core.server.errors import ApiError
from bilan_core.store.votes import validate_comment

# Only JSON escapes can put NUL or lone surrogates into text (PostgreSQL refuses both); bodies
# without such escapes skip the per-event text check.
_RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89abAB]|[dD][c-fC-F])")
# The times an event may carry: an older one would weigh nothing, a later one could never be
# superseded (the latest vote wins), so both are refused with a reason.
MAX_EVENT_AGE_DAYS = 3650
MAX_CLOCK_AHEAD_MS = MS_PER_DAY


@dataclass(frozen=True)
class Accepted:
    """A valid event with the keys the mapping needs already read from its properties."""

    index: int
    event: WireEvent
    subject: str | None  # the turn id (turn and vote events) or conversation id (conversation events)
    conversation_id: str | None


def parse_body(raw: bytes) -> list[Any]:
    """The list of raw events in a body (array, ``{"events": [...]}`` or one event)."""
    try:
        # 1e400 is valid JSON that parses to inf: the event holding it is refused on its own.
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from exc
    if isinstance(body, list):
        items = body
    elif isinstance(body, dict) and "events" in body:
        items = body["events"]
        if not isinstance(items, list):
            raise ApiError(400, '"events" must be an array of events')
    elif isinstance(body, dict):
        items = [body]
    else:
        raise ApiError(400, 'body must be an array of events, {"events": [...]} or one event object')
    if len(items) > MAX_BATCH_EVENTS:
        raise ApiError(
            413, f"a request may carry at most {MAX_BATCH_EVENTS:,} events, this one has {len(items):,}"
        )
    return items


def _refuse_constant(name: str) -> None:
    # Python's json accepts NaN and Infinity; JSON (and PostgreSQL's json type) does not.
    raise ValueError(f"{name} is not a JSON value")


def needs_text_check(raw: bytes) -> bool:
    """True if the body has escapes that could hide NUL characters or unpaired surrogates."""
    return _RISKY_ESCAPE.search(raw) is not None


def validate_events(items: list[Any], *, check_text: bool) -> tuple[list[Accepted], list[EventError]]:
    """Valid events (in order) and one error per invalid event."""
    accepted: list[Accepted] = []
    errors: list[EventError] = []
    window = TimeWindow.around(now_ms())
    for index, item in enumerate(items):
        try:
            accepted.append(_accept(index, item, window=window, check_text=check_text))
        except ValidationError as exc:
            errors.append(EventError(index=index, eventId=_event_id_of(item), message=_describe(exc)))
        except ValueError as exc:
            errors.append(EventError(index=index, eventId=_event_id_of(item), message=str(exc)))
    return accepted, errors


def _event_id_of(item: object) -> str | None:
    if isinstance(item, dict) and isinstance(item.get("eventId"), str):
        return item["eventId"][:MAX_LABEL_LENGTH]
    return None


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "event"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


@dataclass(frozen=True)
class TimeWindow:
    """The epoch-ms times an event may carry, from its arrival at the server."""

    earliest: int
    latest: int

    @classmethod
    def around(cls, moment: int) -> TimeWindow:
        """At most ``MAX_EVENT_AGE_DAYS`` old, at most ``MAX_CLOCK_AHEAD_MS`` ahead of ``moment``."""
        return cls(moment - MAX_EVENT_AGE_DAYS * MS_PER_DAY, moment + MAX_CLOCK_AHEAD_MS)

    def check(self, name: str, value: float | None) -> None:
        """ValueError naming ``name`` when the time ``value`` is outside the window."""
        if value is None or self.earliest <= value <= self.latest:
            return
        when = to_datetime(int(value)).strftime("%Y-%m-%d %H:%M UTC") if value <= MAX_TIMESTAMP_MS else value
        if value > self.latest:
            raise ValueError(f"{name} {when} is more than a day ahead of the server's clock")
        raise ValueError(f"{name} {when} is more than {MAX_EVENT_AGE_DAYS:,} days old")


def _check_storable(event: WireEvent, *, check_text: bool) -> None:
    problem = json_problem(event.properties, check_text=check_text)
    if problem:
        raise ValueError(f"properties {problem}")
    if not check_text:
        return
    for name in ("eventId", "eventType", "userId", "promptText", "aiResponse"):
        value = getattr(event, name)
        problem = unstorable_text(value) if value else None
        if problem:
            raise ValueError(f"{name} contains {problem}, which cannot be stored")


def _accept(index: int, item: object, *, window: TimeWindow, check_text: bool) -> Accepted:
    event = WireEvent.model_validate(item)
    _check_storable(event, check_text=check_text)
    window.check("timestamp", event.timestamp)
    props = event.properties
    conversation_id = text_property(props, "conversation_id", "conversationId", limit=MAX_LABEL_LENGTH)
    subject: str | None = None
    if event.eventType in TURN_EVENT_TYPES or event.eventType in (VOTE_CAST, VOTE_CLEARED):
        subject = _required(text_property(props, "turnId", "turn_id", limit=MAX_LABEL_LENGTH), "turnId")
    if event.eventType in (CONVERSATION_STARTED, CONVERSATION_ENDED):
        subject = _required(conversation_id, "conversation_id")
    if event.eventType in TURN_EVENT_TYPES:
        _check_turn_properties(props, window)
    elif event.eventType == VOTE_CAST:
        _check_vote_properties(props)
    elif event.eventType == CONVERSATION_STARTED:
        text_property(props, "team_session", limit=MAX_LABEL_LENGTH)
        text_property(props, "title", limit=None)
        window.check("properties.started_at", number_property(props, "started_at"))
    elif event.eventType == CONVERSATION_ENDED:
        text_property(props, "status", limit=40)
        window.check("properties.ended_at", number_property(props, "ended_at"))
    return Accepted(index=index, event=event, subject=subject, conversation_id=conversation_id)


def _required(value: str | None, name: str) -> str:
    if value is None:
        raise ValueError(f"properties.{name} is required for this event type")
    return value


def text_property(props: dict[str, Any], *names: str, limit: int | None) -> str | None:
    """The first of ``names`` given in ``props`` as text (ValueError if not text or too long).

    An empty text is "not given", as null is: Bilan's SDKs send ``errorMessage: ""`` for an error
    without a message. A label (``limit`` of ``MAX_LABEL_LENGTH``) must also fit in ``MAX_LABEL_BYTES``.
    """
    for name in names:
        value = props.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ValueError(f"properties.{name} must be a string, got {value!r}"[:300])
        if limit is not None and len(value) > limit:
            raise ValueError(f"properties.{name} is longer than {limit} characters")
        if limit == MAX_LABEL_LENGTH:
            check_label_bytes(f"properties.{name}", value)
        return value
    return None


def number_property(props: dict[str, Any], name: str) -> float | None:
    """A non-negative finite number property, or None when absent (ValueError otherwise)."""
    value = props.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e15:
        raise ValueError(f"properties.{name} must be a non-negative number, got {value!r}"[:300])
    return float(value)


def _check_turn_properties(props: dict[str, Any], window: TimeWindow) -> None:
    for name in ("model", "modelUsed", "systemPromptVersion", "promptName", "provider", "team_session"):
        text_property(props, name, limit=MAX_LABEL_LENGTH)
    number = props.get("promptVersion")
    if number is not None and (type(number) is not int or not 1 <= number < 2**31):
        raise ValueError(f"properties.promptVersion must be a whole number from 1, got {number!r}"[:300])
    for name in ("errorType", "finish_reason"):
        text_property(props, name, limit=40)
    text_property(props, "errorMessage", limit=None)
    for name in ("responseTime", "attemptedDuration", "ttft_ms"):
        number_property(props, name)
    window.check("properties.startedAt", number_property(props, "startedAt"))
    text_property(props, "capture", limit=20)
    for name in ("prompt_tokens", "completion_tokens", "total_tokens", "promptChars", "responseChars"):
        value = props.get(name)
        if value is not None and (type(value) is not int or not 0 <= value < 2**31):
            raise ValueError(f"properties.{name} must be a non-negative integer, got {value!r}"[:300])


def _check_vote_properties(props: dict[str, Any]) -> None:
    value = props.get("value")
    if type(value) is not int or value not in (1, -1):
        raise ValueError(f"properties.value must be exactly 1 or -1, got {value!r}"[:300])
    validate_comment(props.get("comment"))
