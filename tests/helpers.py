"""Small builders shared by tests: turns and votes at fixed times."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine

from bilan_core.clock import now_ms
from bilan_core.store.models import Turn
from bilan_core.store.turns import record_turn


def add_turn(engine: Engine, *, model: str = "gpt-4o-mini", user_id: str = "alice", **fields: object) -> str:
    """Insert a finished turn and return its prompt id."""
    prompt_id = str(fields.pop("prompt_id", uuid.uuid4()))
    fields.setdefault("created_ms", now_ms())
    record_turn(engine, Turn(prompt_id=prompt_id, user_id=user_id, model=model, **fields))
    return prompt_id
