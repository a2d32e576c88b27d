"""The server-mode event format (see the wire document): one event, a request's reply, event builders.

Shared by the server (validation) and the client (building the events it sends). Besides Bilan's
own event types, Bilan for Python defines ``vote_cleared`` (``properties.turn_id``): the user took
their vote on that turn back. Any other ``eventType`` is accepted and stored as an event only.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from bilan_core.limits import MAX_LABEL_LENGTH, check_label_bytes
from bilan_core.store.events import new_event_id
from bilan_core.store.models import Turn

MAX_BATCH_EVENTS = 1_000
MIN_TIMESTAMP_MS = 1_000_000_000_000  # 2001-09-09: anything smaller is not epoch ms
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31

TURN_STARTED = "turn_started"
TURN_COMPLETED = "turn_completed"
TURN_FAILED = "turn_failed"
VOTE_CAST = "vote_cast"
VOTE_CLEARED = "vote_cleared"
CONVERSATION_STARTED = "conversation_started"
CONVERSATION_ENDED = "conversation_ended"
CANCELLED = "cancelled"  # turn_completed status of an answer the user stopped (Bilan for Python)
TURN_EVENT_TYPES = frozenset({TURN_STARTED, TURN_COMPLETED, TURN_FAILED})


def _fits_an_index(value: str) -> str:
    return check_label_bytes("the text", value)


Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_LABEL_LENGTH), AfterValidator(_fits_an_index)
]


class WireEvent(BaseModel):
    """One event as the TypeScript SDK and our client send it."""

    model_config = ConfigDict(extra="ignore")

    eventId: Identifier
    eventType: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    userId: Identifier
    timestamp: Annotated[
        StrictInt,
        Field(
            ge=MIN_TIMESTAMP_MS,
            le=MAX_TIMESTAMP_MS,
            description="epoch milliseconds (13 digits: a 10-digit value is in seconds)",
        ),
    ]
    properties: dict[str, Any] = Field(default_factory=dict)
    promptText: str | None = None
    aiResponse: str | None = None


class EventBatch(BaseModel):
    """The usual request body: ``{"events": [...]}`` (a bare array or one bare event also works)."""

    events: list[WireEvent] = Field(max_length=MAX_BATCH_EVENTS)


RequestBody = EventBatch | Annotated[list[WireEvent], Field(max_length=MAX_BATCH_EVENTS)] | WireEvent


class IngestStats(BaseModel):
    """How many events of a request were stored, skipped as already known, or refused."""

    processed: int
    skipped: int
    errors: int
    total: int


class EventError(BaseModel):
    """Why one event of a request was refused."""

    index: int
    eventId: str | None
    message: str


class CaptureLimit(BaseModel):
    """The answer to ``GET /api/capture``: the most the key's project keeps."""

    max_capture: str


class CaptureNotice(BaseModel):
    """Events that asked to keep more than the project's maximum capture level, stored at that level."""

    level: str
    lowered: int
    message: str


class IngestReply(BaseModel):
    """The answer to ``POST /api/events``; ``capture`` says when events were kept at a lower level."""

    success: bool
    message: str
    stats: IngestStats
    errors: list[EventError]
    capture: CaptureNotice | None = Field(None, exclude_if=lambda notice: notice is None)  # as Bilan's reply


class ErrorReply(BaseModel):
    """Any refused request: ``{"error": "..."}``; ``kind`` names a typed error a client raises as such."""

    error: str
    kind: str | None = None


def make_event(
    event_type: str,
    *,
    user_id: str,
    properties: dict[str, Any],
    timestamp_ms: int,
    prompt_text: str | None = None,
    ai_response: str | None = None,
) -> dict[str, Any]:
    """One wire event as a JSON-ready dict with a new ``evt_<ms>_<random>`` id."""
    event = {
        "eventId": new_event_id(timestamp_ms),
        "eventType": event_type,
        "timestamp": timestamp_ms,
        "userId": user_id,
        "properties": properties,
    }
    return event | known({"promptText": prompt_text, "aiResponse": ai_response})


def known(values: dict[str, Any]) -> dict[str, Any]:
    """The entries whose value is known: what is None is left out of an event, not sent as null."""
    return {key: value for key, value in values.items() if value is not None}


# The wire name of each turn attribute a turn event carries: its context, then its usage.
TURN_CONTEXT_FIELDS = {
    "turnId": "prompt_id",
    "conversation_id": "conversation_id",
    "model": "model",
    "modelUsed": "model",
    "systemPromptVersion": "prompt_version",
    "promptName": "prompt_name",
    "promptVersion": "prompt_number",
    "regeneratedFrom": "regenerated_from",
    "provider": "provider",
    "team_session": "team_session",
    "capture": "capture",
    "promptChars": "prompt_chars",
}
USAGE_NAMES = ("finish_reason", "prompt_tokens", "completion_tokens", "total_tokens", "ttft_ms", "tool_calls")
TURN_USAGE_FIELDS = {name: name for name in USAGE_NAMES} | {"responseChars": "response_chars"}


def _turn_fields(turn: Turn, fields: dict[str, str]) -> dict[str, Any]:
    return known({wire: getattr(turn, attribute) for wire, attribute in fields.items()})


def _turn_context(turn: Turn) -> dict[str, Any]:
    return _turn_fields(turn, TURN_CONTEXT_FIELDS) | {"retryCount": 0}


def _usage(turn: Turn) -> dict[str, Any]:
    return _turn_fields(turn, TURN_USAGE_FIELDS)


def _turn_event(turn: Turn, event_type: str, properties: dict[str, Any], timestamp_ms: int) -> dict[str, Any]:
    answer = turn.response if event_type == TURN_COMPLETED else None
    return make_event(
        event_type,
        user_id=turn.user_id,
        properties=properties,
        timestamp_ms=timestamp_ms,
        prompt_text=turn.prompt_text,
        ai_response=answer,
    )


def turn_events(turn: Turn) -> list[dict[str, Any]]:
    """``turn_started`` then ``turn_completed`` or ``turn_failed`` for one recorded turn.

    A turn without a latency is sent without ``responseTime`` (or ``attemptedDuration``), so the server
    stores no latency either, as local mode does.
    """
    context = _turn_context(turn)
    started = dict(
        context,
        startedAt=turn.created_ms,
        **known({name: getattr(turn, name) for name in ("messages", "parameters", "tools", "route")}),
    )
    first = _turn_event(turn, TURN_STARTED, started, turn.created_ms)
    return [first, _turn_outcome_event(turn, context)]


def _turn_outcome_event(turn: Turn, context: dict[str, Any]) -> dict[str, Any]:
    seconds = turn.latency_ms / 1000.0 if turn.latency_ms is not None else None
    finished_ms = turn.created_ms + round(turn.latency_ms or 0)
    if turn.status == "error":
        properties = dict(
            context,
            status="failed",
            errorType=turn.error_type or "unknown_error",
            failedAt=finished_ms,
            **known({"attemptedDuration": seconds, "errorMessage": turn.error_message or None}),
            **_usage(turn),
        )
        return _turn_event(turn, TURN_FAILED, properties, finished_ms)
    properties = dict(
        context,
        status=CANCELLED if turn.status == CANCELLED else "success",
        responseLength=turn.response_chars if turn.response_chars is not None else len(turn.response or ""),
        completedAt=finished_ms,
        **known({"responseTime": seconds}),
        **_usage(turn),
    )
    return _turn_event(turn, TURN_COMPLETED, properties, finished_ms)
