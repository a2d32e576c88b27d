"""The Playground's conversations over HTTP, scoped to the caller's project.

List a user's conversations, open one, read its turns with one user's votes (``load_chat``, one query),
rename and delete. Conversations are started by ``conversation_started`` events on ``/api/events``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, Field

from bilan_core.errors import NotFoundError, NotOwnerError
from bilan_core.limits import MAX_LABEL_LENGTH
from bilan_core.remote.wire_events import ErrorReply
from bilan_core.server.deps import REFUSALS, CallerDep, CleanText, engine_of
from bilan_core.server.errors import ApiError
from bilan_core.store import chat_history, conversations
from bilan_core.store.chat_history import ChatEntry
from bilan_core.store.conversation_summary import ConversationSummary

router = APIRouter(prefix="/api/conversations", tags=["conversations"])
ConversationId = Annotated[str, Path(min_length=1, max_length=MAX_LABEL_LENGTH), CleanText]
UserId = Annotated[
    str,
    Query(min_length=1, max_length=MAX_LABEL_LENGTH, description="whose votes and conversations"),
    CleanText,
]
NOT_FOUND: dict[int | str, dict[str, object]] = {
    **REFUSALS,
    404: {"model": ErrorReply, "description": "The project has no conversation with this id"},
}
OWNED: dict[int | str, dict[str, object]] = {
    **NOT_FOUND,
    403: {"model": ErrorReply, "description": "The conversation belongs to another user"},
}
LIST_LIMIT = 1000


class RenameRequest(BaseModel):
    """A conversation's new title (one line, at most 200 characters after cleaning; not blank)."""

    title: Annotated[str, Field(min_length=1, max_length=10_000), CleanText]


class Deleted(BaseModel):
    """The id of the conversation deleted with its turns and their votes."""

    deleted: str


@router.get("", summary="A user's conversations, most recently updated first", responses=REFUSALS)
def get_conversations(
    request: Request,
    caller: CallerDep,
    user_id: UserId,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT)] = 50,
) -> list[ConversationSummary]:
    """The user's conversations in the caller's project."""
    found = conversations.list_conversations(
        engine_of(request), user_id=user_id, limit=limit, project_id=caller.project_id
    )
    return [ConversationSummary.of(conversation) for conversation in found]


@router.get("/{conversation_id}", summary="One conversation", responses=NOT_FOUND)
def get_conversation(
    request: Request, caller: CallerDep, conversation_id: ConversationId
) -> ConversationSummary:
    """The conversation with this id in the caller's project (404 when there is none)."""
    try:
        found = conversations.get_conversation(
            engine_of(request), conversation_id=conversation_id, project_id=caller.project_id
        )
    except NotFoundError as exc:
        raise ApiError(404, str(exc)) from exc
    return ConversationSummary.of(found)


@router.get(
    "/{conversation_id}/chat",
    summary="A conversation's turns, oldest first, with one user's votes",
    responses=REFUSALS,
)
def get_chat(
    request: Request,
    caller: CallerDep,
    conversation_id: ConversationId,
    user_id: UserId,
    recent: Annotated[int | None, Query(ge=1, le=1_000_000, description="only the newest turns")] = None,
) -> list[ChatEntry]:
    """The conversation's turns (the newest ``recent``) with ``user_id``'s votes (empty when it has none)."""
    return chat_history.load_chat(
        engine_of(request),
        conversation_id=conversation_id,
        user_id=user_id,
        project_id=caller.project_id,
        recent=recent,
    )


@router.patch(
    "/{conversation_id}",
    summary="Rename a conversation",
    responses={**OWNED, 400: {"model": ErrorReply, "description": "The title is blank"}},
)
def patch_conversation(
    request: Request,
    caller: CallerDep,
    conversation_id: ConversationId,
    user_id: UserId,
    body: Annotated[RenameRequest, Body()],
) -> ConversationSummary:
    """Give the user's conversation a new title (403 when another user started it)."""
    try:
        renamed = conversations.rename_conversation(
            engine_of(request),
            conversation_id=conversation_id,
            title=body.title,
            user_id=user_id,
            project_id=caller.project_id,
        )
    except NotFoundError as exc:
        raise ApiError(404, str(exc)) from exc
    except NotOwnerError as exc:
        raise ApiError(403, str(exc)) from exc
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
    return ConversationSummary.of(renamed)


@router.delete(
    "/{conversation_id}", summary="Delete a conversation with its turns and votes", responses=OWNED
)
def delete_conversation(
    request: Request, caller: CallerDep, conversation_id: ConversationId, user_id: UserId
) -> Deleted:
    """Delete the user's conversation, its turns and their votes (403 when another user started it)."""
    try:
        conversations.delete_conversation(
            engine_of(request), conversation_id=conversation_id, user_id=user_id, project_id=caller.project_id
        )
    except NotFoundError as exc:
        raise ApiError(404, str(exc)) from exc
    except NotOwnerError as exc:
        raise ApiError(403, str(exc)) from exc
    return Deleted(deleted=conversation_id)
