"""Reads for dashboards: ``/api/stats`` (the ``get_stats`` figures), one turn's stats, overview counts."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from bilan_core.analytics.stats import (
    PromptStats,
    Stats,
    checked_vote_filter,
    compute_prompt_stats,
    compute_stats,
)
from bilan_core.errors import UnknownPromptError
from bilan_core.limits import MAX_LABEL_LENGTH
from bilan_core.remote.wire_events import ErrorReply
from bilan_core.server.deps import MAX_EPOCH_MS, REFUSALS, CallerDep, CleanText, engine_of
from bilan_core.server.errors import ApiError
from bilan_core.server.queries import Overview, overview

router = APIRouter(prefix="/api", tags=["analytics"])
EpochMs = Annotated[int | None, Query(ge=0, le=MAX_EPOCH_MS, description="epoch milliseconds")]
Name = Annotated[str | None, Query(max_length=MAX_LABEL_LENGTH), CleanText]
PromptId = Annotated[str, Path(max_length=MAX_LABEL_LENGTH), CleanText]


@router.get(
    "/stats",
    summary="Trust figures, as get_stats() returns them",
    responses={**REFUSALS, 400: {"model": ErrorReply, "description": "A filter get_stats() refuses"}},
)
def get_stats(
    request: Request,
    caller: CallerDep,
    model: Name = None,
    user_id: Name = None,
    since: EpochMs = None,
    until: EpochMs = None,
    conversation_id: Name = None,
    variant: Name = None,
    team_session: Name = None,
    prompt_name: Name = None,
    prompt_version: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="a version of prompt_name")
    ] = None,
) -> Stats:
    """Trust score, vote counts, interval, trend and newest comments of the project's votes."""
    given = {
        "model": model,
        "user_id": user_id,
        "since": since,
        "conversation_id": conversation_id,
        "variant": variant,
        "team_session": team_session,
        "prompt_name": prompt_name,
        "prompt_version": prompt_version,
    }
    try:  # the library's own checks, so a filter means the same in both modes
        where = checked_vote_filter({name: value for name, value in given.items() if value is not None})
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
    where = replace(where, project_id=caller.project_id, until=until)
    return compute_stats(engine_of(request), where)


@router.get(
    "/stats/prompts/{prompt_id}",
    summary="Votes and comments on one turn",
    responses={**REFUSALS, 404: {"model": ErrorReply, "description": "No turn has this id"}},
)
def get_prompt_stats(request: Request, caller: CallerDep, prompt_id: PromptId) -> PromptStats:
    """What ``get_prompt_stats(prompt_id)`` returns, for a turn of the caller's project."""
    try:
        return compute_prompt_stats(engine_of(request), prompt_id=prompt_id, project_id=caller.project_id)
    except UnknownPromptError as exc:
        raise ApiError(404, str(exc)) from exc


@router.get(
    "/overview", summary="Headline counts: events, users, turns, votes, conversations", responses=REFUSALS
)
def get_overview(
    request: Request, caller: CallerDep, since: EpochMs = None, until: EpochMs = None
) -> Overview:
    """Counts for the project, optionally in a time range."""
    return overview(engine_of(request), project_id=caller.project_id, since=since, until=until)
