"""Casting, replacing, clearing and reading votes; one vote per user per turn."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from bilan_core.clock import now_ms
from bilan_core.errors import UnknownPromptError
from bilan_core.store.engine import session_scope
from bilan_core.store.models import LOCAL_PROJECT, Turn, Vote
from bilan_core.store.upsert import insert_for

MAX_COMMENT_LENGTH = 10_000


def validate_vote_value(value: object) -> int:
    """Return ``value`` if it is exactly 1 or -1, else raise ValueError saying what is wrong."""
    if type(value) is not int or value not in (1, -1):
        raise ValueError(f"vote value must be exactly 1 (👍) or -1 (👎), got {value!r}")
    return value


def validate_comment(comment: object) -> str | None:
    """A stripped comment, None for empty; refuse non-text and text over 10,000 characters."""
    if comment is None:
        return None
    if not isinstance(comment, str):
        raise ValueError(f"comment must be text, got {type(comment).__name__}")
    stripped = comment.strip()
    if "\x00" in stripped:
        raise ValueError("comment contains a NUL character (\\x00), which cannot be stored")
    if len(stripped) > MAX_COMMENT_LENGTH:
        raise ValueError(
            f"comment is {len(stripped):,} characters; the limit is {MAX_COMMENT_LENGTH:,}. "
            "Shorten it: Bilan never cuts a comment silently."
        )
    return stripped or None


def cast_vote(
    engine: Engine,
    *,
    prompt_id: str,
    user_id: str,
    value: int,
    comment: str | None = None,
    team_session: str | None = None,
    project_id: int = LOCAL_PROJECT,
    at_ms: int | None = None,
) -> Vote:
    """Store a user's vote on a turn, replacing that user's earlier vote on it."""
    value = validate_vote_value(value)
    comment = validate_comment(comment)
    moment = now_ms() if at_ms is None else at_ms
    with session_scope(engine) as session:
        turn = session.exec(
            select(Turn.model, Turn.prompt_version).where(
                Turn.project_id == project_id, Turn.prompt_id == prompt_id
            )
        ).first()
        if turn is None:
            raise UnknownPromptError(f"no turn has prompt id {prompt_id!r}; vote on a recorded answer")
        row = {
            "project_id": project_id,
            "prompt_id": prompt_id,
            "user_id": user_id,
            "value": value,
            "comment": comment,
            "team_session": team_session,
            "model": turn.model,
            "prompt_version": turn.prompt_version,
            "created_ms": moment,
            "updated_ms": moment,
        }
        statement = insert_for(engine.dialect.name, Vote.__table__).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["project_id", "prompt_id", "user_id"],
            set_={"value": value, "comment": comment, "team_session": team_session, "updated_ms": moment},
        )
        session.exec(statement)
    return Vote(**row)


def clear_vote(engine: Engine, *, prompt_id: str, user_id: str, project_id: int = LOCAL_PROJECT) -> bool:
    """Remove a user's vote on a turn; True if there was one."""
    with session_scope(engine) as session:
        result = session.exec(
            delete(Vote).where(
                col(Vote.project_id) == project_id,
                col(Vote.prompt_id) == prompt_id,
                col(Vote.user_id) == user_id,
            )
        )
        return bool(result.rowcount)


def votes_by_prompt(
    engine: Engine, *, prompt_ids: Iterable[str], user_id: str, project_id: int = LOCAL_PROJECT
) -> dict[str, Vote]:
    """A user's votes on many turns at once, keyed by prompt id (one query)."""
    ids = list(prompt_ids)
    if not ids:
        return {}
    with Session(engine) as session:
        rows = session.exec(
            select(Vote).where(
                Vote.project_id == project_id, Vote.user_id == user_id, col(Vote.prompt_id).in_(ids)
            )
        ).all()
    return {vote.prompt_id: vote for vote in rows}
