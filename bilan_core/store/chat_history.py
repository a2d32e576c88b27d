"""A conversation as the chat shows it: its turns with one user's votes, read in one query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, select
from sqlmodel import Session, col

from bilan_core.store.models import LOCAL_PROJECT, Turn, Vote

ANSWERED_STATUSES = ("ok", "cancelled")


@dataclass(frozen=True)
class ChatEntry:
    """One turn as the chat shows it: the question, the answer or error, its figures and the user's vote."""

    prompt_id: str
    prompt_text: str | None
    response: str | None
    status: str
    model: str
    prompt_version: str | None = None
    finish_reason: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    vote: int | None = None
    comment: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    route: dict[str, Any] | None = None
    regenerated_from: str | None = None
    capture: str | None = None  # the level its texts were kept at (None: before capture levels)

    @property
    def answered(self) -> bool:
        """True when the turn has an answer (complete or stopped early) that can be rated."""
        return self.status in ANSWERED_STATUSES


_COLUMNS = (
    col(Turn.prompt_id),
    col(Turn.prompt_text),
    col(Turn.response),
    col(Turn.status),
    col(Turn.model),
    col(Turn.prompt_version),
    col(Turn.finish_reason),
    col(Turn.error_type),
    col(Turn.error_message),
    col(Turn.prompt_tokens),
    col(Turn.completion_tokens),
    col(Turn.latency_ms),
    col(Turn.ttft_ms),
    col(Vote.value),
    col(Vote.comment),
    col(Turn.tool_calls),
    col(Turn.route),
    col(Turn.regenerated_from),
    col(Turn.capture),
)


def load_chat(
    engine: Engine,
    *,
    conversation_id: str,
    user_id: str,
    project_id: int = LOCAL_PROJECT,
    recent: int | None = None,
) -> list[ChatEntry]:
    """A conversation's turns (the newest ``recent`` if given), oldest first, with ``user_id``'s votes."""
    vote_of_user = and_(
        col(Vote.project_id) == col(Turn.project_id),
        col(Vote.prompt_id) == col(Turn.prompt_id),
        col(Vote.user_id) == user_id,
    )
    statement = (
        select(*_COLUMNS)
        .outerjoin(Vote, vote_of_user)
        .where(col(Turn.project_id) == project_id, col(Turn.conversation_id) == conversation_id)
        .order_by(col(Turn.created_ms).desc(), col(Turn.id).desc())
        .limit(recent)
    )
    with Session(engine) as session:
        rows = session.execute(statement).all()[::-1]
    return [
        ChatEntry(
            prompt_id=row[0],
            prompt_text=row[1],
            response=row[2],
            status=row[3],
            model=row[4],
            prompt_version=row[5],
            finish_reason=row[6],
            error_type=row[7],
            error_message=row[8],
            prompt_tokens=row[9],
            completion_tokens=row[10],
            latency_ms=row[11],
            ttft_ms=row[12],
            vote=row[13],
            comment=row[14],
            tool_calls=row[15],
            route=row[16],
            regenerated_from=row[17],
            capture=row[18],
        )
        for row in rows
    ]
