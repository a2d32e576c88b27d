"""Comparisons and batch runs over HTTP, scoped to the caller's project.

The Compare and Batch pages in server mode: a comparison is created, its two answers linked, its verdict
recorded and its view read; a batch run is created with all of its items in one request (within the
body limit), its items finished one by one, and its results read with one user's votes. The answers
themselves are turns, sent as events on ``/api/events``. Bodies are read within ``BILAN_MAX_BODY_BYTES``;
every refusal is ``{"error": ...}`` with a 4xx status.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from bilan_core.limits import MAX_LABEL_LENGTH
from bilan_core.remote.experiment_calls import ItemFinished
from bilan_core.remote.wire_events import ErrorReply
from bilan_core.server.deps import (
    MAX_EPOCH_MS,
    REFUSALS,
    CallerDep,
    CleanText,
    engine_of,
    parsed_body,
    stored,
)
from bilan_core.store import batch_runs, comparisons
from bilan_core.store.batch_runs import BatchOptions, BatchResult, NewBatchItem
from bilan_core.store.comparisons import ComparisonView, DecidedComparison, NewComparison
from bilan_core.store.models import BatchItem, BatchRun, Comparison

router = APIRouter(prefix="/api", tags=["experiments"])
Name = Annotated[str, Field(min_length=1, max_length=MAX_LABEL_LENGTH), CleanText]
Id = Annotated[str, Path(min_length=1, max_length=MAX_LABEL_LENGTH), CleanText]
UserId = Annotated[
    str, Query(min_length=1, max_length=MAX_LABEL_LENGTH, description="whose votes"), CleanText
]
BAD_INPUT: dict[int | str, dict[str, object]] = {
    **REFUSALS,
    400: {"model": ErrorReply, "description": "The input cannot be stored as it is; the message says why"},
    413: {"model": ErrorReply, "description": "A body over the size limit"},
}
KNOWN: dict[int | str, dict[str, object]] = {
    **BAD_INPUT,
    404: {"model": ErrorReply, "description": "The project has nothing with this id"},
}


class Answer(BaseModel):
    """The turn that answered one side."""

    model_config = ConfigDict(extra="forbid")

    prompt_id: Name


class Verdict(BaseModel):
    """Which side won (``a``, ``b``, ``tie``, ``both_bad``) and an optional comment."""

    model_config = ConfigDict(extra="forbid")

    winner: str
    comment: str | None = None


class OptionsJson(BaseModel):
    """How every prompt of a run is asked."""

    model_config = ConfigDict(extra="forbid")

    model: str
    concurrency: int = 8
    temperature: float | None = None
    max_tokens: int | None = None
    system_prompt: str | None = None


class NewRun(BaseModel):
    """A batch run to store with all of its prompts."""

    model_config = ConfigDict(extra="forbid")

    user_id: Name
    file_name: str
    options: OptionsJson
    items: list[NewBatchItem]


class FinishedItem(BaseModel):
    """An item's answer (its turn) or its error."""

    model_config = ConfigDict(extra="forbid")

    prompt_id: Name | None = None
    error: Annotated[str | None, Field(max_length=100_000), CleanText] = None


class RunStatus(BaseModel):
    """A run's status."""

    model_config = ConfigDict(extra="forbid")

    status: str


@router.post("/comparisons", summary="Store a new comparison", responses=BAD_INPUT)
async def post_comparison(request: Request, caller: CallerDep) -> Comparison:
    """An undecided comparison of two variants in the caller's project."""
    body = await parsed_body(request, NewComparison)
    return await stored(
        lambda: comparisons.create_comparison(engine_of(request), project_id=caller.project_id, new=body)
    )


@router.get("/comparisons/decided", summary="The verdicts the leaderboard counts", responses=REFUSALS)
def get_decided(
    request: Request,
    caller: CallerDep,
    since_ms: Annotated[int | None, Query(ge=0, le=MAX_EPOCH_MS)] = None,
    team_session: Annotated[str | None, Query(min_length=1, max_length=MAX_LABEL_LENGTH), CleanText] = None,
) -> list[DecidedComparison]:
    """The project's decided comparisons, oldest first."""
    return comparisons.decided_comparisons(
        engine_of(request), project_id=caller.project_id, since_ms=since_ms, team_session=team_session
    )


@router.get("/comparisons/version", summary="Verdicts counted and the newest one's time", responses=REFUSALS)
def get_comparisons_version(request: Request, caller: CallerDep) -> list[int]:
    """Changes whenever a verdict is added (a cache key for the leaderboard)."""
    return list(comparisons.comparisons_version(engine_of(request), project_id=caller.project_id))


@router.get("/comparisons/{comparison_id}", summary="One comparison", responses=KNOWN)
async def get_comparison(request: Request, caller: CallerDep, comparison_id: Id) -> Comparison:
    """The comparison with this id in the caller's project."""
    return await stored(
        lambda: comparisons.get_comparison(
            engine_of(request), project_id=caller.project_id, comparison_id=comparison_id
        )
    )


@router.put("/comparisons/{comparison_id}/answers/{side}", summary="Link a side's answer", responses=KNOWN)
async def put_answer(
    request: Request, caller: CallerDep, comparison_id: Id, side: Annotated[str, Path(max_length=10)]
) -> Comparison:
    """Link the turn that answered side ``a`` or ``b``."""
    body = await parsed_body(request, Answer)
    return await stored(
        lambda: comparisons.attach_answer(
            engine_of(request),
            project_id=caller.project_id,
            comparison_id=comparison_id,
            side=side,
            prompt_id=body.prompt_id,
        )
    )


@router.post("/comparisons/{comparison_id}/verdict", summary="Record the verdict", responses=KNOWN)
async def post_verdict(request: Request, caller: CallerDep, comparison_id: Id) -> Comparison:
    """Record which side won, once, on a comparison whose two answers are linked."""
    body = await parsed_body(request, Verdict)
    return await stored(
        lambda: comparisons.decide_comparison(
            engine_of(request),
            project_id=caller.project_id,
            comparison_id=comparison_id,
            winner=body.winner,
            comment=body.comment,
        )
    )


@router.get("/comparisons/{comparison_id}/view", summary="A comparison as one voter sees it", responses=KNOWN)
async def get_view(request: Request, caller: CallerDep, comparison_id: Id, user_id: UserId) -> ComparisonView:
    """Both answers with ``user_id``'s votes; the variants stay hidden until a blind verdict."""
    return await stored(
        lambda: comparisons.comparison_view(
            engine_of(request), project_id=caller.project_id, comparison_id=comparison_id, user_id=user_id
        )
    )


@router.post("/batch-runs", summary="Store a batch run with all of its prompts", responses=BAD_INPUT)
async def post_batch_run(request: Request, caller: CallerDep) -> BatchRun:
    """A pending run and its items in the caller's project (nothing stored when one is refused)."""
    body = await parsed_body(request, NewRun)
    return await stored(
        lambda: batch_runs.create_batch_run(
            engine_of(request),
            project_id=caller.project_id,
            user_id=body.user_id,
            file_name=body.file_name,
            items=body.items,
            options=BatchOptions(**body.options.model_dump()),
        )
    )


@router.get("/batch-runs", summary="The newest batch runs", responses=REFUSALS)
def get_batch_runs(
    request: Request, caller: CallerDep, limit: Annotated[int, Query(ge=1, le=1000)] = 20
) -> list[BatchRun]:
    """The project's newest runs."""
    return batch_runs.recent_runs(engine_of(request), project_id=caller.project_id, limit=limit)


@router.get("/batch-runs/unfinished", summary="Runs with prompts still pending", responses=REFUSALS)
def get_unfinished_runs(
    request: Request,
    caller: CallerDep,
    user_id: Annotated[str | None, Query(min_length=1, max_length=MAX_LABEL_LENGTH), CleanText] = None,
) -> list[BatchRun]:
    """The project's resumable runs (one user's when given), newest first."""
    return batch_runs.unfinished_runs(engine_of(request), project_id=caller.project_id, user_id=user_id)


@router.get("/batch-runs/{run_id}", summary="One batch run", responses=KNOWN)
async def get_batch_run(request: Request, caller: CallerDep, run_id: Id) -> BatchRun:
    """The run with this id in the caller's project."""
    return await stored(
        lambda: batch_runs.get_batch_run(engine_of(request), project_id=caller.project_id, run_id=run_id)
    )


@router.get("/batch-runs/{run_id}/pending", summary="A run's prompts not answered yet", responses=KNOWN)
async def get_pending(request: Request, caller: CallerDep, run_id: Id) -> list[BatchItem]:
    """The run's pending items, in file order."""
    return await stored(
        lambda: batch_runs.pending_items(engine_of(request), project_id=caller.project_id, run_id=run_id)
    )


@router.post(
    "/batch-runs/{run_id}/items/{position}/finish", summary="Mark a prompt answered", responses=KNOWN
)
async def post_finished_item(
    request: Request, caller: CallerDep, run_id: Id, position: Annotated[int, Path(ge=0, le=10_000_000)]
) -> ItemFinished:
    """Mark a pending item done with its turn or its error (``changed`` is False if it was done)."""
    body = await parsed_body(request, FinishedItem)
    changed = await stored(
        lambda: batch_runs.finish_item(
            engine_of(request),
            project_id=caller.project_id,
            run_id=run_id,
            position=position,
            prompt_id=body.prompt_id,
            error=body.error,
        )
    )
    return ItemFinished(changed=changed)


@router.put("/batch-runs/{run_id}/status", summary="Set a run's status", responses=KNOWN)
async def put_run_status(request: Request, caller: CallerDep, run_id: Id) -> RunStatus:
    """Set the run's status (``pending``, ``running``, ``completed``, ``interrupted``)."""
    body = await parsed_body(request, RunStatus)
    await stored(
        lambda: batch_runs.set_run_status(
            engine_of(request), project_id=caller.project_id, run_id=run_id, status=body.status
        )
    )
    return body


@router.get("/batch-runs/{run_id}/results", summary="A run's rows with one user's votes", responses=KNOWN)
async def get_results(request: Request, caller: CallerDep, run_id: Id, user_id: UserId) -> list[BatchResult]:
    """One row per item: prompt, answer or error, figures, metadata and ``user_id``'s vote."""
    return await stored(
        lambda: batch_runs.batch_results(
            engine_of(request), project_id=caller.project_id, run_id=run_id, user_id=user_id
        )
    )
