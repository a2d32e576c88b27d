"""Forgetting a user over HTTP: ``POST /api/users/forget``, scoped to the caller's project."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field

from bilan_core.limits import MAX_LABEL_LENGTH
from bilan_core.remote.wire_events import ErrorReply
from bilan_core.server.deps import REFUSALS, CallerDep, CleanText, engine_of
from bilan_core.server.errors import ApiError
from bilan_core.store.forget import forget_user
from bilan_core.store.removal import RemovalReport

router = APIRouter(prefix="/api/users", tags=["privacy"])


class ForgetRequest(BaseModel):
    """Whose data to delete: a user id as the events gave it."""

    model_config = ConfigDict(extra="forbid")

    user_id: Annotated[str, Field(min_length=1, max_length=MAX_LABEL_LENGTH), CleanText]


@router.post(
    "/forget",
    summary="Delete everything stored of one user",
    responses={**REFUSALS, 400: {"model": ErrorReply, "description": "The user id is blank"}},
)
def post_forget(request: Request, caller: CallerDep, body: Annotated[ForgetRequest, Body()]) -> RemovalReport:
    """Delete the user's turns, votes, comments, conversations and events, and others' votes on their turns.

    Idempotent: asking again removes nothing more and answers zeros.
    """
    try:
        stored = request.app.state.capture.at(caller.capture).user(body.user_id)  # hashed at ``none``
        return forget_user(engine_of(request), user_id=stored, project_id=caller.project_id)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
