"""Storing turns (one per model call): local mode's finished turns and the server's turn events.

Both go through ``merge_turns``: a turn is inserted, or its known fields are merged into the stored
row (``turn_started`` and ``turn_completed`` may arrive in either order, in different requests).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, case, func

from bilan_core.clock import now_ms
from bilan_core.store import rollups
from bilan_core.store.conversations import ConversationTouch, touch_conversations
from bilan_core.store.engine import write_transaction
from bilan_core.store.models import TURNS, Turn
from bilan_core.store.upsert import insert_from, least, rows_parameters
from bilan_core.store.votes import label_votes

UNKNOWN_MODEL = "unknown"
PENDING = "pending"  # a turn whose turn_completed / turn_failed has not arrived yet
TURN_COLUMNS = tuple(column.name for column in TURNS.columns if column.name != "id")
# Merged columns a fragment without them leaves as stored; the others follow the rules in _turns_statement.
TURN_KEEP_IF_NULL = tuple(
    name
    for name in TURN_COLUMNS
    if name not in ("project_id", "prompt_id", "user_id", "model", "status", "created_ms")
)


def record_turn(engine: Engine, turn: Turn) -> Turn:
    """Store a finished turn (a local vote needs its turn first, so no vote waits for it)."""
    with write_transaction(engine) as connection:
        _merge_one(connection, turn)
    return turn


def record_turn_in_conversation(engine: Engine, turn: Turn) -> Turn:
    """Store a finished turn and touch its conversation in one transaction, as the server's ingestion does."""
    with write_transaction(engine) as connection:
        _merge_one(connection, turn)
        if turn.conversation_id:
            touch = ConversationTouch(turn.conversation_id, now_ms(), turn.prompt_text)
            touch_conversations(connection, turn.project_id, [touch])
    return turn


def _merge_one(connection: Connection, turn: Turn) -> None:
    fields = turn.model_dump(exclude={"id", "project_id", "prompt_id"})
    merge_turns(connection, turn.project_id, {turn.prompt_id: fields})


def merge_turns(connection: Connection, project_id: int, fragments: Mapping[str, Mapping[str, Any]]) -> None:
    """Insert or merge turns (fields by prompt id; None means unknown), then label their votes."""
    if not fragments:
        return
    rows = []
    for prompt_id in sorted(fragments):  # in key order, so concurrent writers do not deadlock
        row: dict[str, Any] = dict.fromkeys(TURN_COLUMNS)
        row.update(fragments[prompt_id], project_id=project_id, prompt_id=prompt_id)
        row["model"] = row["model"] or UNKNOWN_MODEL
        row["status"] = row["status"] or PENDING
        rows.append(row)
    with rollups.following(connection, project_id, list(fragments)):
        connection.execute(_turns_statement(connection.dialect.name), rows_parameters(connection, rows))
        label_votes(connection, project_id, set(fragments))


@cache
def _turns_statement(dialect: str) -> Any:
    statement = insert_from(dialect, TURNS, TURN_COLUMNS)
    new = statement.excluded
    changes: dict[str, Any] = {name: func.coalesce(new[name], TURNS.c[name]) for name in TURN_KEEP_IF_NULL}
    changes["user_id"] = new.user_id
    changes["model"] = case((new.model == UNKNOWN_MODEL, TURNS.c.model), else_=new.model)
    changes["status"] = case((new.status == PENDING, TURNS.c.status), else_=new.status)
    changes["created_ms"] = least(dialect, TURNS.c.created_ms, new.created_ms)
    return statement.on_conflict_do_update(index_elements=["project_id", "prompt_id"], set_=changes)
