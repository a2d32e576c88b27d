"""The Analytics page over HTTP: the dashboard functions, scoped to the caller's project.

``POST /api/analytics/dashboard`` answers everything the page shows for a filter (the client's price
table travels in the body); ``comments``, ``filter-options`` and ``data-version`` serve the rest of
the page; ``answers`` lists the turns behind a figure (a chart's drill-down); ``votes`` and ``turns``
are the vote-side and turn-side frames on their own.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import AfterValidator, BaseModel, Field

from bilan_core.analytics import answers, comments, rollups
from bilan_core.analytics.dashboard import load_dashboard
from bilan_core.analytics.data_version import data_version
from bilan_core.analytics.filters import AnalyticsFilter, filter_options
from bilan_core.analytics.percentiles import per_model_percentiles
from bilan_core.limits import MAX_LABEL_LENGTH
from bilan_core.pricing import Price
from bilan_core.remote.dashboard_json import (
    AnswersPageJson,
    CommentsPageJson,
    DashboardJson,
    FrameJson,
    answers_to_json,
    comments_to_json,
    dashboard_to_json,
    frame_to_json,
)
from bilan_core.remote.wire_events import ErrorReply
from bilan_core.server.auth import Caller
from bilan_core.server.deps import MAX_EPOCH_MS, REFUSALS, CallerDep, CleanText, engine_of
from bilan_core.server.errors import ApiError

router = APIRouter(prefix="/api/analytics", tags=["analytics"])
Name = Annotated[str, Field(min_length=1, max_length=MAX_LABEL_LENGTH), CleanText]
Names = Annotated[list[Name], Field(max_length=100)]
REFUSALS_AND_BAD_FILTER: dict[int | str, dict[str, object]] = {
    **REFUSALS,
    400: {"model": ErrorReply, "description": "The filter's time range is empty"},
}


class FilterQuery(BaseModel):
    """Which turns and votes to cover; every field is optional (end exclusive, times in epoch ms)."""

    start_ms: int | None = Field(None, ge=0, le=MAX_EPOCH_MS)
    end_ms: int | None = Field(None, ge=0, le=MAX_EPOCH_MS)
    models: Names = []
    users: Names = []
    team_session: Name | None = None
    prompt_versions: Names = []
    prompts: Names = []

    def scoped(self, caller: Caller) -> AnalyticsFilter:
        """The analytics filter on the caller's project (400 when the time range is empty)."""
        try:
            return AnalyticsFilter(
                start_ms=self.start_ms,
                end_ms=self.end_ms,
                models=tuple(self.models),
                users=tuple(self.users),
                team_session=self.team_session,
                prompt_versions=tuple(self.prompt_versions),
                prompts=tuple(self.prompts),
                project_id=caller.project_id,
            )
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc


class PriceJson(BaseModel):
    """USD per one million input and output tokens."""

    input: float = Field(ge=0, le=1e9)
    output: float = Field(ge=0, le=1e9)


class DashboardRequest(BaseModel):
    """A dashboard's filter and the price table for its costs (the server's own when left out)."""

    filter: FilterQuery = FilterQuery()
    prices: Annotated[dict[Name, PriceJson], Field(max_length=1000)] | None = None


class VoteFrames(BaseModel):
    """Vote-side figures: trust per model, per day and model, and votes per user."""

    trust_by_model: FrameJson
    daily_trust: FrameJson
    votes_by_user: FrameJson


class TurnFrames(BaseModel):
    """Turn-side figures: tokens and cost, latency percentiles and error rates, per model."""

    tokens: FrameJson
    latency: FrameJson
    error_rates: FrameJson


FilterDep = Annotated[FilterQuery, Query()]


def _not_zero(value: int | None) -> int | None:
    if value == 0:
        raise ValueError("sign must be 1 (👍) or -1 (👎)")
    return value


NonZero = AfterValidator(_not_zero)


def _prices(request: Request, given: dict[str, PriceJson] | None) -> dict[str, Price]:
    if given is None:
        return request.app.state.prices
    return {model: Price(price.input, price.output) for model, price in given.items()}


@router.post(
    "/dashboard",
    summary="Every figure of the Analytics page for one filter",
    responses=REFUSALS_AND_BAD_FILTER,
)
def post_dashboard(request: Request, caller: CallerDep, body: DashboardRequest) -> DashboardJson:
    """Headline (with the previous period's), trust, tokens, latency, errors, users, prompt versions."""
    where = body.filter.scoped(caller)
    dashboard = load_dashboard(engine_of(request), where, prices=_prices(request, body.prices))
    return dashboard_to_json(dashboard)


@router.get(
    "/votes", summary="Trust per model and per day, votes per user", responses=REFUSALS_AND_BAD_FILTER
)
def get_votes(request: Request, caller: CallerDep, query: FilterDep) -> VoteFrames:
    """The vote-side frames of the Analytics page for a filter."""
    where = query.scoped(caller)
    engine = engine_of(request)
    votes = rollups.vote_rollup(engine, where).frame
    return VoteFrames(
        trust_by_model=frame_to_json(rollups.trust_from_rollup(votes)),
        daily_trust=frame_to_json(rollups.daily_trust_from_rollup(votes)),
        votes_by_user=frame_to_json(comments.votes_by_user_from_rollup(votes)),
    )


@router.get(
    "/turns",
    summary="Tokens and cost, latency percentiles and error rates per model",
    responses=REFUSALS_AND_BAD_FILTER,
)
def get_turns(request: Request, caller: CallerDep, query: FilterDep) -> TurnFrames:
    """The turn-side frames of the Analytics page for a filter (costs at the server's prices)."""
    where = query.scoped(caller)
    engine = engine_of(request)
    rollup = rollups.turn_rollup(engine, where)
    return TurnFrames(
        tokens=frame_to_json(rollups.tokens_from_rollup(rollup.frame, request.app.state.prices)),
        latency=frame_to_json(per_model_percentiles(rollup)),
        error_rates=frame_to_json(rollups.error_rates_from_rollup(rollup.frame)),
    )


@router.get("/comments", summary="One page of comments, newest first", responses=REFUSALS_AND_BAD_FILTER)
def get_comments(
    request: Request,
    caller: CallerDep,
    query: FilterDep,
    search: Annotated[str | None, Query(max_length=MAX_LABEL_LENGTH), CleanText] = None,
    sign: Annotated[int | None, Query(ge=-1, le=1, description="1 for 👍, -1 for 👎"), NonZero] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = comments.COMMENTS_PAGE_SIZE,
) -> CommentsPageJson:
    """Comments on the project's votes matching the filter, a search text and a sign."""
    found = comments.comments_page(
        engine_of(request), query.scoped(caller), search=search, sign=sign, page=page, page_size=page_size
    )
    return comments_to_json(found)


@router.get(
    "/answers",
    summary="One page of the answers behind a figure, newest first",
    responses=REFUSALS_AND_BAD_FILTER,
)
def get_answers(
    request: Request,
    caller: CallerDep,
    query: FilterDep,
    voter: Annotated[Name | None, Query(description="only answers this user voted on")] = None,
    sign: Annotated[
        int | None, Query(ge=-1, le=1, description="1: with a 👍, -1: with a 👎"), NonZero
    ] = None,
    status: Annotated[Literal["ok", "error", "cancelled"] | None, Query()] = None,
    unversioned: Annotated[bool, Query(description="only answers without a prompt version")] = False,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = answers.ANSWERS_PAGE_SIZE,
) -> AnswersPageJson:
    """The project's turns matching the filter and the narrowing, each with its 👍 and 👎 counts."""
    found = answers.answers_page(
        engine_of(request),
        query.scoped(caller),
        voter=voter,
        sign=sign,
        status=status,
        unversioned=unversioned,
        page=page,
        page_size=page_size,
    )
    return answers_to_json(found)


@router.get("/filter-options", summary="Models, users, team sessions and prompt versions", responses=REFUSALS)
def get_filter_options(request: Request, caller: CallerDep) -> dict[str, list[str]]:
    """The values that occur in the project, for the filter pickers."""
    return filter_options(engine_of(request), project_id=caller.project_id)


@router.get(
    "/data-version", summary="A marker that changes whenever the project's analytics do", responses=REFUSALS
)
def get_data_version(request: Request, caller: CallerDep) -> list[int]:
    """Changes whenever anything the analytics show changes, deletes included (their cache key)."""
    return list(data_version(engine_of(request), project_id=caller.project_id))
