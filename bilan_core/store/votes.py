"""Votes: one per user per turn, labelled with its turn's model and prompt version.

Local mode and the server's ingestion write them with the same statements: ``upsert_votes`` (the
newest vote of a user on a turn wins), ``clear_votes`` and ``label_votes`` (a vote may arrive at the
server before its turn, so the labels are copied when the turn is stored).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    BindParameter,
    Connection,
    Engine,
    String,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)

from bilan_core.clock import now_ms
from bilan_core.errors import UnknownPromptError
from bilan_core.limits import MAX_COMMENT_LENGTH, check_storable
from bilan_core.store import rollups
from bilan_core.store.engine import write_transaction
from bilan_core.store.models import LOCAL_PROJECT, TURNS, VOTES, Vote
from bilan_core.store.upsert import insert_from, rows_parameters

VOTE_COLUMNS = (
    "project_id",
    "prompt_id",
    "user_id",
    "value",
    "comment",
    "team_session",
    "model",
    "prompt_version",
    "prompt_name",
    "prompt_number",
    "created_ms",
    "updated_ms",
)
VOTE_LABELS = ("model", "prompt_version", "prompt_name", "prompt_number")  # copied from the vote's turn


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
    check_storable("comment", stripped)
    if len(stripped) > MAX_COMMENT_LENGTH:
        raise ValueError(
            f"comment is {len(stripped):,} characters; the limit is {MAX_COMMENT_LENGTH:,}. "
            "Shorten it: Bilan never cuts a comment silently."
        )
    return stripped or None


@dataclass(frozen=True)
class VoteClear:
    """A user's vote on a turn removed at ``at_ms`` (a vote cast later than that stays)."""

    prompt_id: str
    user_id: str
    at_ms: int


def vote_row(
    project_id: int,
    *,
    prompt_id: str,
    user_id: str,
    value: int,
    comment: object,
    team_session: str | None,
    at_ms: int,
) -> dict[str, Any]:
    """The row ``upsert_votes`` stores for a vote cast at ``at_ms`` (labelled from its turn when stored)."""
    return {
        "project_id": project_id,
        "prompt_id": prompt_id,
        "user_id": user_id,
        "value": validate_vote_value(value),
        "comment": validate_comment(comment),
        "team_session": team_session,
        **dict.fromkeys(VOTE_LABELS),
        "created_ms": at_ms,
        "updated_ms": at_ms,
    }


def upsert_votes(connection: Connection, project_id: int, rows: list[dict[str, Any]]) -> None:
    """Store ``vote_row``s, each replacing the user's earlier vote on the turn unless that one is newer."""
    if not rows:
        return
    with rollups.following(connection, project_id, [row["prompt_id"] for row in rows], turns=False):
        connection.execute(_votes_statement(connection.dialect.name), rows_parameters(connection, rows))
        if connection.dialect.name != "postgresql":  # there, labelled from their turns as they are inserted
            label_votes(connection, project_id, {row["prompt_id"] for row in rows if row["model"] is None})


def clear_votes(connection: Connection, project_id: int, clears: list[VoteClear]) -> int:
    """Remove the votes named, unless cast after the clear; how many were removed."""
    if not clears:
        return 0
    parameters = [
        {"project": project_id, "p_prompt": one.prompt_id, "p_user": one.user_id, "p_at": one.at_ms}
        for one in clears
    ]
    with rollups.following(connection, project_id, [one.prompt_id for one in clears], turns=False):
        result = connection.execute(_clear_statement(), parameters)
    return max(0, result.rowcount)


def label_votes(connection: Connection, project_id: int, prompt_ids: set[str]) -> None:
    """Copy model, prompt version and stored prompt from turns onto their votes (votes may arrive first)."""
    if prompt_ids:
        statement = _label_statement(connection.dialect.name)
        connection.execute(statement, {"project": project_id, "prompt_ids": sorted(prompt_ids)})


@cache
def _label_statement(dialect: str) -> Any:
    project: BindParameter[int] = bindparam("project")
    if dialect == "postgresql":  # one array parameter: the same SQL (and prepared plan) for any batch
        of_prompts = VOTES.c.prompt_id == func.any(bindparam("prompt_ids", type_=ARRAY(String)))
    else:
        of_prompts = VOTES.c.prompt_id.in_(bindparam("prompt_ids", expanding=True))
    return (
        update(VOTES)
        .where(
            VOTES.c.project_id == project,
            of_prompts,
            TURNS.c.project_id == project,
            TURNS.c.prompt_id == VOTES.c.prompt_id,
            or_(*(VOTES.c[name].is_distinct_from(TURNS.c[name]) for name in VOTE_LABELS)),
        )
        .values({name: TURNS.c[name] for name in VOTE_LABELS})
    )


@cache
def _votes_statement(dialect: str) -> Any:
    statement = insert_from(dialect, VOTES, VOTE_COLUMNS, from_turn=VOTE_LABELS)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["project_id", "prompt_id", "user_id"],
        set_={
            "value": new.value,
            "comment": new.comment,
            "team_session": new.team_session,
            "updated_ms": new.updated_ms,
            **{name: func.coalesce(new[name], VOTES.c[name]) for name in VOTE_LABELS},
        },
        where=VOTES.c.updated_ms <= new.updated_ms,
    )


@cache
def _clear_statement() -> Any:
    return delete(VOTES).where(
        VOTES.c.project_id == bindparam("project"),
        VOTES.c.prompt_id == bindparam("p_prompt"),
        VOTES.c.user_id == bindparam("p_user"),
        VOTES.c.updated_ms <= bindparam("p_at"),
    )


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
    row = vote_row(
        project_id,
        prompt_id=prompt_id,
        user_id=user_id,
        value=value,
        comment=comment,
        team_session=team_session,
        at_ms=now_ms() if at_ms is None else at_ms,
    )
    with write_transaction(engine) as connection:
        turn = connection.execute(
            select(*(TURNS.c[name] for name in VOTE_LABELS)).where(
                TURNS.c.project_id == project_id, TURNS.c.prompt_id == prompt_id
            )
        ).first()
        if turn is None:
            raise UnknownPromptError(f"no turn has prompt id {prompt_id!r}; vote on a recorded answer")
        row.update(turn._mapping)
        upsert_votes(connection, project_id, [row])
    return Vote(**row)


def clear_vote(engine: Engine, *, prompt_id: str, user_id: str, project_id: int = LOCAL_PROJECT) -> bool:
    """Remove a user's vote on a turn; True if there was one."""
    with write_transaction(engine) as connection:
        return bool(clear_votes(connection, project_id, [VoteClear(prompt_id, user_id, now_ms())]))
