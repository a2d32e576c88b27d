"""``POST /api/events`` (ingestion) and ``GET /api/events`` (stored events, paged)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter

from bilan_core.limits import MAX_LABEL_LENGTH
from bilan_core.remote.wire_events import CaptureLimit, ErrorReply, IngestReply, RequestBody
from bilan_core.server.auth import Caller
from bilan_core.server.deps import MAX_EPOCH_MS, REFUSALS, CallerDep, CleanText, engine_of, read_body
from bilan_core.server.ingest import ingest
from bilan_core.server.queries import EventPage, EventQuery, list_events
from bilan_core.server.validation import needs_text_check, parse_body

router = APIRouter(prefix="/api", tags=["events"])
_BODY_SCHEMA = TypeAdapter(RequestBody).json_schema(ref_template="#/components/schemas/{model}")
_BODY_SCHEMA.pop("$defs", None)


def _ingest_raw(request: Request, caller: Caller, raw: bytes) -> IngestReply:
    reply = ingest(
        engine_of(request),
        project_id=caller.project_id,
        items=parse_body(raw),
        check_text=needs_text_check(raw),
        capture=request.app.state.capture.at(caller.capture),
    )
    request.app.state.statistics.stored(reply.stats.processed)
    return reply


@router.post(
    "/events",
    summary="Ingest events (a bare array, {events: [...]} or one event; at most 1,000)",
    response_model=IngestReply,
    responses={
        **REFUSALS,
        400: {"model": ErrorReply, "description": "Not JSON, or not one of the three body shapes"},
        413: {"model": ErrorReply, "description": "More than 1,000 events or a body over the size limit"},
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _BODY_SCHEMA}}}
    },
)
async def post_events(request: Request, caller: CallerDep) -> IngestReply:
    """Store new events (repeated eventIds are skipped); invalid events are reported one by one."""
    raw = await read_body(request)
    return await run_in_threadpool(_ingest_raw, request, caller, raw)


@router.get("/events", summary="List stored events, newest first", responses=REFUSALS)
def get_events(
    request: Request,
    caller: CallerDep,
    since: Annotated[int | None, Query(ge=0, le=MAX_EPOCH_MS, description="epoch ms, inclusive")] = None,
    until: Annotated[int | None, Query(ge=0, le=MAX_EPOCH_MS, description="epoch ms, exclusive")] = None,
    event_type: Annotated[list[Annotated[str, CleanText]] | None, Query(max_length=50)] = None,
    user_id: Annotated[str | None, Query(max_length=MAX_LABEL_LENGTH), CleanText] = None,
    q: Annotated[
        str | None,
        Query(max_length=MAX_LABEL_LENGTH, description="text in prompt, answer or properties"),
        CleanText,
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> EventPage:
    """A page of the project's events filtered by time, types, user and text."""
    query = EventQuery(
        project_id=caller.project_id,
        since=since,
        until=until,
        event_types=tuple(event_type or ()),
        user_id=user_id,
        text=q,
        limit=limit,
        offset=offset,
    )
    return list_events(engine_of(request), query)


@router.get("/capture", summary="The most this key's project keeps of people's words", responses=REFUSALS)
def get_capture(caller: CallerDep) -> CaptureLimit:
    """The project's maximum capture level: events asking for more are stored at it."""
    return CaptureLimit(max_capture=caller.capture)
