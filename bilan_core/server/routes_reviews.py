"""Team review sessions over HTTP, scoped to the caller's project.

The rules are ``bilan_core.reviews.service`` and ``store.reviews``' (the same as local mode); this
only parses, lowers comments and rater ids to the project's capture level, and maps refusals: 400
for input that does not fit (a rating off the rubric, an empty source), 404 for an unknown session,
item, run or prompt id, 409 for a closed session or an item not handed to the rater. Each refusal
is ``{"error": ..., "kind": ...}`` where ``kind`` names the typed error a client raises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict

from bilan_core.errors import (
    NAMED_ERRORS,
    NotFoundError,
    ReviewItemNotAssignedError,
    ReviewSessionClosedError,
    UnknownPromptError,
)
from bilan_core.limits import MAX_LABEL_LENGTH
from bilan_core.privacy.capture import CapturePolicy
from bilan_core.remote.wire_events import ErrorReply
from bilan_core.reviews import service
from bilan_core.reviews.sources import ReviewSource
from bilan_core.server.auth import Caller
from bilan_core.server.deps import CallerDep, CleanText, engine_of, parsed_body
from bilan_core.server.errors import ApiError
from bilan_core.server.routes_experiments import KNOWN, Name
from bilan_core.store import review_ratings, review_reads, reviews
from bilan_core.store.review_models import (
    NewReviewSession,
    RaterProgress,
    ReviewItemRow,
    ReviewItemView,
    ReviewRating,
    ReviewRatingRow,
    ReviewSessionInfo,
)

router = APIRouter(prefix="/api/review-sessions", tags=["reviews"])
ResultT = TypeVar("ResultT")
SessionId = Annotated[str, Path(min_length=1, max_length=64), CleanText]
ItemId = Annotated[int, Path(ge=1, lt=2**31)]
Rater = Annotated[str, Query(min_length=1, max_length=MAX_LABEL_LENGTH, description="the rater"), CleanText]
REVIEW_REFUSALS: dict[int | str, dict[str, object]] = {
    **KNOWN,
    409: {
        "model": ErrorReply,
        "description": "The session is closed, or the item was not handed to the rater",
    },
}


class NewSessionBody(BaseModel):
    """A session to make and where its items come from."""

    model_config = ConfigDict(extra="forbid")

    session: NewReviewSession
    source: ReviewSource


class RaterBody(BaseModel):
    """Who asks."""

    model_config = ConfigDict(extra="forbid")

    rater: Name


class RatingBody(BaseModel):
    """A rating as sent: checked against the session's rubric by the store (400 when it does not fit)."""

    model_config = ConfigDict(extra="forbid")

    rater: Name
    vote: Any = None
    winner: Any = None
    scores: Any = None
    comment: Any = None


async def reviewed(call: Callable[[], ResultT]) -> ResultT:
    """Run a review call off the event loop; typed refusals become 409, 404 or 400 naming their kind."""
    try:
        return await run_in_threadpool(call)
    except (ReviewSessionClosedError, ReviewItemNotAssignedError) as exc:
        raise ApiError(409, str(exc), kind=type(exc).__name__) from exc
    except (NotFoundError, UnknownPromptError) as exc:
        raise ApiError(404, str(exc), kind=_kind(exc)) from exc
    except (TypeError, ValueError) as exc:
        raise ApiError(400, str(exc), kind=_kind(exc)) from exc


def _kind(exc: Exception) -> str | None:
    name = type(exc).__name__
    return name if name in NAMED_ERRORS else None


def _policy(request: Request, caller: Caller) -> CapturePolicy:
    """What the project keeps of people's words and ids (comments, raters)."""
    policy: CapturePolicy = request.app.state.capture.at(caller.capture)
    return policy


@router.post("", summary="Make a review session of recorded answers", responses=REVIEW_REFUSALS)
async def post_session(request: Request, caller: CallerDep) -> ReviewSessionInfo:
    """A new open session with the items its source gives (prompt ids, a filter, an experiment run)."""
    body = await parsed_body(request, NewSessionBody)
    policy = _policy(request, caller)
    new = body.session.model_copy(
        update={
            "created_by": policy.user(body.session.created_by),
            "instructions": policy.text(body.session.instructions),
            "source": body.source.model_dump(mode="json"),
        }
    )
    return await reviewed(
        lambda: service.create_session(
            engine_of(request), project_id=caller.project_id, new=new, source=body.source
        )
    )


@router.get("", summary="The newest review sessions", responses=REVIEW_REFUSALS)
async def get_sessions(
    request: Request, caller: CallerDep, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> list[ReviewSessionInfo]:
    """The project's review sessions, newest first."""
    return await reviewed(
        lambda: reviews.list_sessions(engine_of(request), project_id=caller.project_id, limit=limit)
    )


@router.get("/{session_id}", summary="One review session", responses=REVIEW_REFUSALS)
async def get_session(request: Request, caller: CallerDep, session_id: SessionId) -> ReviewSessionInfo:
    """The session: its rubric, status and item count."""
    return await reviewed(
        lambda: reviews.get_session(engine_of(request), project_id=caller.project_id, session_id=session_id)
    )


@router.post("/{session_id}/join", summary="A rater joins a review session", responses=REVIEW_REFUSALS)
async def post_join(request: Request, caller: CallerDep, session_id: SessionId) -> None:
    """Record the rater (joining again changes nothing)."""
    rater = _policy(request, caller).user((await parsed_body(request, RaterBody)).rater)
    await reviewed(
        lambda: reviews.join_session(
            engine_of(request), project_id=caller.project_id, session_id=session_id, rater=rater
        )
    )


@router.post("/{session_id}/next", summary="Hand the rater their next item", responses=REVIEW_REFUSALS)
async def post_next(request: Request, caller: CallerDep, session_id: SessionId) -> ReviewItemView | None:
    """The rater's next item (or the one they hold open), handed out in one transaction; null when done."""
    rater = _policy(request, caller).user((await parsed_body(request, RaterBody)).rater)
    return await reviewed(
        lambda: service.next_item(
            engine_of(request), project_id=caller.project_id, session_id=session_id, rater=rater
        )
    )


@router.get("/{session_id}/items/{item_id}", summary="An item handed to a rater", responses=REVIEW_REFUSALS)
async def get_item(
    request: Request, caller: CallerDep, session_id: SessionId, item_id: ItemId, rater: Rater
) -> ReviewItemView:
    """The item as the rater sees it, with their rating so far."""
    rater = _policy(request, caller).user(rater)
    return await reviewed(
        lambda: review_reads.item_view(
            engine_of(request),
            project_id=caller.project_id,
            session_id=session_id,
            item_id=item_id,
            rater=rater,
        )
    )


@router.post("/{session_id}/items/{item_id}/rating", summary="Rate an item", responses=REVIEW_REFUSALS)
async def post_rating(
    request: Request, caller: CallerDep, session_id: SessionId, item_id: ItemId
) -> ReviewRating:
    """Store (or replace) the rater's rating, with its vote or verdict, in one transaction."""
    body = await parsed_body(request, RatingBody)
    policy = _policy(request, caller)
    comment = policy.text(body.comment) if isinstance(body.comment, str) else body.comment
    return await reviewed(
        lambda: review_ratings.rate_item(
            engine_of(request),
            project_id=caller.project_id,
            session_id=session_id,
            item_id=item_id,
            rater=policy.user(body.rater),
            vote=body.vote,
            winner=body.winner,
            scores=body.scores,
            comment=comment,
        )
    )


@router.post("/{session_id}/items/{item_id}/skip", summary="Pass on an item", responses=REVIEW_REFUSALS)
async def post_skip(request: Request, caller: CallerDep, session_id: SessionId, item_id: ItemId) -> None:
    """The item goes to someone else and never back to this rater."""
    rater = _policy(request, caller).user((await parsed_body(request, RaterBody)).rater)
    await reviewed(
        lambda: reviews.skip_item(
            engine_of(request),
            project_id=caller.project_id,
            session_id=session_id,
            item_id=item_id,
            rater=rater,
        )
    )


@router.get("/{session_id}/progress", summary="Each rater's progress", responses=REVIEW_REFUSALS)
async def get_progress(request: Request, caller: CallerDep, session_id: SessionId) -> list[RaterProgress]:
    """Per rater: rated, skipped, drafts and remaining."""
    return await reviewed(
        lambda: review_reads.rater_progress(
            engine_of(request), project_id=caller.project_id, session_id=session_id
        )
    )


@router.get("/{session_id}/ratings", summary="Every complete rating", responses=REVIEW_REFUSALS)
async def get_ratings(request: Request, caller: CallerDep, session_id: SessionId) -> list[ReviewRatingRow]:
    """The session's complete ratings with their items' sources."""
    return await reviewed(
        lambda: review_reads.rating_rows(
            engine_of(request), project_id=caller.project_id, session_id=session_id
        )
    )


@router.get("/{session_id}/items", summary="Every item of a review session", responses=REVIEW_REFUSALS)
async def get_items(request: Request, caller: CallerDep, session_id: SessionId) -> list[ReviewItemRow]:
    """The session's items with their texts, sources and counts."""
    return await reviewed(
        lambda: review_reads.item_rows(
            engine_of(request), project_id=caller.project_id, session_id=session_id
        )
    )


@router.post("/{session_id}/close", summary="Close a review session", responses=REVIEW_REFUSALS)
async def post_close(request: Request, caller: CallerDep, session_id: SessionId) -> ReviewSessionInfo:
    """No more ratings; a blind session shows its models (closing again changes nothing)."""
    return await reviewed(
        lambda: reviews.close_session(engine_of(request), project_id=caller.project_id, session_id=session_id)
    )
