"""Storing and reading turns (one per model call)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bilan_core.db import session_scope
from bilan_core.models import LOCAL_PROJECT, Turn


def record_turn(engine: Engine, turn: Turn) -> Turn:
    """Insert a finished turn (a local vote needs its turn first, so no vote waits for it)."""
    with session_scope(engine) as session:
        session.add(turn)
    return turn


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
