"""Storing and reading turns (one per model call)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from bilan_core.db import session_scope
from bilan_core.models import LOCAL_PROJECT, Turn, Vote


def record_turn(engine: Engine, turn: Turn) -> Turn:
    """Insert a finished turn and give its votes (if any arrived first) its model and version."""
    with session_scope(engine) as session:
        session.add(turn)
        session.flush()
        _label_waiting_votes(session, turn)
    return turn


def _label_waiting_votes(session: Session, turn: Turn) -> None:
    session.exec(
        update(Vote)
        .where(col(Vote.project_id) == turn.project_id, col(Vote.prompt_id) == turn.prompt_id)
        .values(model=turn.model, prompt_version=turn.prompt_version)
    )


def get_turn(engine: Engine, *, prompt_id: str, project_id: int = LOCAL_PROJECT) -> Turn | None:
    """The turn with this prompt id, or None."""
    with Session(engine) as session:
        return session.exec(
            select(Turn).where(Turn.project_id == project_id, Turn.prompt_id == prompt_id)
        ).first()


def conversation_turns(
    engine: Engine, *, conversation_id: str, project_id: int = LOCAL_PROJECT
) -> Sequence[Turn]:
    """Every turn of a conversation, oldest first."""
    with Session(engine) as session:
        return session.exec(
            select(Turn)
            .where(Turn.project_id == project_id, Turn.conversation_id == conversation_id)
            .order_by(col(Turn.created_ms), col(Turn.id))
        ).all()
