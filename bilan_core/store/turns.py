"""Storing turns (one per model call)."""

from __future__ import annotations

from sqlalchemy import Engine

from bilan_core.store.engine import session_scope
from bilan_core.store.models import Turn


def record_turn(engine: Engine, turn: Turn) -> Turn:
    """Insert a finished turn (a local vote needs its turn first, so no vote waits for it)."""
    with session_scope(engine) as session:
        session.add(turn)
    return turn
