"""Conversations: start, end, touch, list, rename and delete (with their turns and votes).

Local mode and the server's ingestion share the rules of ``touch_conversations`` (a turn moves its
conversation's updated time on and the first prompt titles it) and ``clean_title``; the server merges
``conversation_started`` / ``conversation_ended`` events with ``upsert_conversations``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, bindparam, case, delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bilan_core.clock import now_ms
from bilan_core.errors import NotFoundError, NotOwnerError
from bilan_core.limits import MAX_LABEL_LENGTH, MAX_STATUS_LENGTH, check_label, storable
from bilan_core.store import rollups
from bilan_core.store.data_versions import mark_changed
from bilan_core.store.engine import session_scope
from bilan_core.store.models import CONVERSATIONS, LOCAL_PROJECT, Conversation, Turn, Vote
from bilan_core.store.upsert import greatest, insert_from, least, rows_parameters

MAX_TITLE_LENGTH = MAX_LABEL_LENGTH
CONVERSATION_COLUMNS = (
    "project_id",
    "conversation_id",
    "user_id",
    "title",
    "team_session",
    "status",
    "created_ms",
    "updated_ms",
    "ended_ms",
)


def clean_title(title: str | None) -> str | None:
    """A title on one line, at most 200 characters (longer first messages are shortened with …)."""
    if title is None:
        return None
    if not isinstance(title, str):
        raise ValueError(f"a conversation title must be text, got {type(title).__name__}")
    line = " ".join(storable(title, "").split())
    if len(line) > MAX_TITLE_LENGTH:
        line = line[: MAX_TITLE_LENGTH - 1] + "…"
    return line or None


def validate_conversation_id(conversation_id: object) -> str:
    """Return a non-empty conversation id within the label limit and without NUL, else raise ValueError."""
    return check_label("conversation_id", conversation_id)


def validate_status(status: object) -> str:
    """Return a non-empty conversation status of at most 40 characters, else raise ValueError."""
    if not isinstance(status, str) or not status.strip():
        raise ValueError(f"status must be a non-empty string such as 'completed', got {status!r}")
    if len(status) > MAX_STATUS_LENGTH:
        raise ValueError(f"status is longer than {MAX_STATUS_LENGTH} characters")
    return status.strip()


def start_conversation(
    engine: Engine,
    *,
    user_id: str,
    title: str | None = None,
    team_session: str | None = None,
    conversation_id: str | None = None,
    project_id: int = LOCAL_PROJECT,
) -> Conversation:
    """Create a conversation and return it."""
    moment = now_ms()
    conversation = Conversation(
        project_id=project_id,
        conversation_id=conversation_id or str(uuid.uuid4()),
        user_id=user_id,
        title=clean_title(title),
        team_session=team_session,
        created_ms=moment,
        updated_ms=moment,
    )
    try:
        with session_scope(engine) as session:
            session.add(conversation)
            mark_changed(session.connection(), project_id)
    except IntegrityError as exc:
        raise ValueError(f"a conversation with id {conversation.conversation_id!r} already exists") from exc
    return conversation


def _get(session: Session, conversation_id: str, project_id: int) -> Conversation:
    conversation = session.exec(
        select(Conversation).where(
            Conversation.project_id == project_id, Conversation.conversation_id == conversation_id
        )
    ).first()
    if conversation is None:
        raise NotFoundError(f"no conversation has id {conversation_id!r}")
    return conversation


class Owned(Protocol):
    """A conversation as stored or as summarised: it knows its id and the user who started it."""

    @property
    def conversation_id(self) -> str:
        """The conversation's id."""
        ...

    @property
    def user_id(self) -> str:
        """The user id (display name) that started the conversation."""
        ...


def can_edit_conversation(conversation: Owned | None, user_id: str) -> bool:
    """True when ``user_id`` may continue, rename or delete it: its owner (anyone, for a chat not started)."""
    return conversation is None or conversation.user_id == user_id


def check_owner(conversation: Owned, user_id: str | None, action: str) -> None:
    """NotOwnerError unless ``user_id`` owns the conversation (None: no check, as for the SDK's own calls)."""
    if user_id is not None and not can_edit_conversation(conversation, user_id):
        raise NotOwnerError(
            f"only {conversation.user_id!r}, who started conversation {conversation.conversation_id!r}, "
            f"may {action} it (you are {user_id!r})"
        )


def get_conversation(
    engine: Engine, *, conversation_id: str, project_id: int = LOCAL_PROJECT
) -> Conversation:
    """The conversation with this id; NotFoundError if there is none."""
    with Session(engine) as session:
        return _get(session, conversation_id, project_id)


def end_conversation(
    engine: Engine, *, conversation_id: str, status: str = "completed", project_id: int = LOCAL_PROJECT
) -> Conversation:
    """Mark a conversation ended with a status (``completed``, ``abandoned``…)."""
    with session_scope(engine) as session:
        conversation = _get(session, conversation_id, project_id)
        conversation.status = status
        conversation.ended_ms = conversation.updated_ms = now_ms()
        session.add(conversation)
    return conversation


@dataclass(frozen=True)
class ConversationTouch:
    """A turn in a conversation at ``moment``, with its prompt (the title if the conversation has none)."""

    conversation_id: str
    moment: int
    prompt: str | None


def touch_conversations(
    connection: Connection, project_id: int, touches: Sequence[ConversationTouch]
) -> None:
    """Move stored conversations' updated time on to their turns' and title the untitled ones."""
    if not touches:
        return
    parameters = [
        {
            "project": project_id,
            "conversation": touch.conversation_id,
            "moment": touch.moment,
            "first_prompt": clean_title(touch.prompt),
        }
        for touch in sorted(touches, key=lambda touch: touch.conversation_id)
    ]
    connection.execute(_touch_statement(connection.dialect.name), parameters)


@cache
def _touch_statement(dialect: str) -> Any:
    table = CONVERSATIONS.c
    return (
        update(CONVERSATIONS)
        .where(table.project_id == bindparam("project"), table.conversation_id == bindparam("conversation"))
        .values(
            updated_ms=greatest(dialect, table.updated_ms, bindparam("moment")),
            title=func.coalesce(table.title, bindparam("first_prompt")),
        )
    )


def upsert_conversations(connection: Connection, project_id: int, rows: list[dict[str, Any]]) -> None:
    """Insert conversations or merge started/ended facts into stored ones (``CONVERSATION_COLUMNS`` rows).

    The earliest creation and latest update win; a title or team session, once known, stays; a row
    with ``ended_ms`` sets the status.
    """
    if not rows:
        return
    ordered = sorted(
        ({**row, "project_id": project_id} for row in rows), key=lambda row: row["conversation_id"]
    )
    connection.execute(
        _conversations_statement(connection.dialect.name), rows_parameters(connection, ordered)
    )
    mark_changed(connection, project_id)


@cache
def _conversations_statement(dialect: str) -> Any:
    statement = insert_from(dialect, CONVERSATIONS, CONVERSATION_COLUMNS)
    new = statement.excluded
    table = CONVERSATIONS.c
    return statement.on_conflict_do_update(
        index_elements=["project_id", "conversation_id"],
        set_={
            "title": func.coalesce(new.title, table.title),
            "team_session": func.coalesce(new.team_session, table.team_session),
            "created_ms": least(dialect, table.created_ms, new.created_ms),
            "updated_ms": greatest(dialect, table.updated_ms, new.updated_ms),
            "status": case((new.ended_ms.is_(None), table.status), else_=new.status),
            "ended_ms": func.coalesce(new.ended_ms, table.ended_ms),
        },
    )


def rename_conversation(
    engine: Engine,
    *,
    conversation_id: str,
    title: str,
    user_id: str | None = None,
    project_id: int = LOCAL_PROJECT,
) -> Conversation:
    """Give a conversation a new title (not empty); with ``user_id``, only if that user owns it."""
    cleaned = clean_title(title)
    if not cleaned:
        raise ValueError("a conversation title must not be empty")
    with session_scope(engine) as session:
        conversation = _get(session, conversation_id, project_id)
        check_owner(conversation, user_id, "rename")
        conversation.title = cleaned
        session.add(conversation)
    return conversation


def delete_conversation(
    engine: Engine, *, conversation_id: str, user_id: str | None = None, project_id: int = LOCAL_PROJECT
) -> None:
    """Delete a conversation with its turns and their votes; with ``user_id``, only if that user owns it."""
    with session_scope(engine) as session:
        check_owner(_get(session, conversation_id, project_id), user_id, "delete")
        prompt_ids = select(Turn.prompt_id).where(
            Turn.project_id == project_id, Turn.conversation_id == conversation_id
        )
        with rollups.following(session.connection(), project_id, list(session.exec(prompt_ids))):
            session.exec(
                delete(Vote).where(col(Vote.project_id) == project_id, col(Vote.prompt_id).in_(prompt_ids))
            )
            session.exec(
                delete(Turn).where(
                    col(Turn.project_id) == project_id, col(Turn.conversation_id) == conversation_id
                )
            )
        session.exec(
            delete(Conversation).where(
                col(Conversation.project_id) == project_id,
                col(Conversation.conversation_id) == conversation_id,
            )
        )
        mark_changed(session.connection(), project_id)


def list_conversations(
    engine: Engine, *, user_id: str, limit: int = 50, project_id: int = LOCAL_PROJECT
) -> Sequence[Conversation]:
    """A user's conversations, most recently updated first."""
    with Session(engine) as session:
        return session.exec(
            select(Conversation)
            .where(Conversation.project_id == project_id, Conversation.user_id == user_id)
            .order_by(col(Conversation.updated_ms).desc())
            .limit(limit)
        ).all()
