"""Rating an item of a review session, and what a rating also counts as, in the same transaction.

A complete rating of a single answer is also the rater's vote on that turn (through the one vote
path, ``store.votes``, labelled with the session's name as its team session), so Analytics, trust
and the roll-ups see it. A verdict on a pair is also stored as a decided comparison of the two
variants, so the Bradley–Terry leaderboard counts it. Rating again replaces the rater's rating and
that vote or comparison; a draft (no vote or verdict) withdraws them.
"""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update

from bilan_core.clock import now_ms
from bilan_core.limits import check_label
from bilan_core.store.data_versions import mark_changed
from bilan_core.store.db_errors import retried
from bilan_core.store.engine import write_transaction
from bilan_core.store.models import COMPARISONS, TURNS
from bilan_core.store.review_models import LAPSED, OPEN, RATED, ReviewRating, ReviewSessionInfo
from bilan_core.store.review_rubric import CheckedRating, check_rating
from bilan_core.store.review_tables import REVIEW_ASSIGNMENTS
from bilan_core.store.reviews import assignment_row, change_load, load_of, open_session_row, session_info
from bilan_core.store.votes import VoteClear, clear_votes, upsert_votes, vote_row

UNCAPTURED_PROMPT = "(prompt not captured)"


def rate_item(
    engine: Engine,
    *,
    project_id: int,
    session_id: str,
    item_id: int,
    rater: str,
    vote: object = None,
    winner: object = None,
    scores: object = None,
    comment: object = None,
    at_ms: int | None = None,
) -> ReviewRating:
    """Store the rater's rating of an item handed to them (replacing theirs), with its vote or verdict.

    The rating is checked against the session's rubric inside the transaction: a refusal stores nothing.
    """
    rater = check_label("rater", rater)
    at = now_ms() if at_ms is None else at_ms
    asked = {"vote": vote, "winner": winner, "scores": scores, "comment": comment}
    return retried(lambda: _rate_once(engine, project_id, session_id, item_id, rater, asked, at))


def _rate_once(
    engine: Engine,
    project_id: int,
    session_id: str,
    item_id: int,
    rater: str,
    asked: dict[str, object],
    at: int,
) -> ReviewRating:
    with write_transaction(engine) as connection:
        session = session_info(open_session_row(connection, project_id, session_id, lock="share"))
        rating = check_rating(session, **asked)
        assignment = assignment_row(connection, session_id, item_id, rater)
        state = RATED if rating.complete else (LAPSED if assignment.state == LAPSED else OPEN)
        comparison_id = assignment.comparison_id
        if session.pairwise:
            comparison_id = _record_verdict(
                connection, project_id, session, assignment, comparison_id, rating, at
            )
        else:
            _record_vote(connection, project_id, session, assignment, rating, at)
        values = {
            "id": assignment.id,
            "state": state,
            "vote": rating.vote,
            "winner": rating.winner,
            "scores": rating.scores or None,
            "comment": rating.comment,
            "comparison_id": comparison_id,
            "rated_ms": at,
        }
        connection.execute(_rating_statement(), {f"p_{name}": value for name, value in values.items()})
        change_load(connection, item_id, load_of(state) - load_of(assignment.state))
        mark_changed(connection, project_id)  # scores and drafts too, not only the vote they carry
    return ReviewRating(
        session_id=session_id,
        item_id=item_id,
        rater=rater,
        vote=rating.vote,
        winner=rating.winner,
        scores=rating.scores,
        comment=rating.comment,
        complete=rating.complete,
        rated_ms=at,
    )


@cache
def _rating_statement() -> Any:
    names = ("state", "vote", "winner", "scores", "comment", "comparison_id", "rated_ms")
    return (
        update(REVIEW_ASSIGNMENTS)
        .where(REVIEW_ASSIGNMENTS.c.id == bindparam("p_id"))
        .values({name: bindparam(f"p_{name}", type_=REVIEW_ASSIGNMENTS.c[name].type) for name in names})
    )


def _record_vote(
    connection: Connection,
    project_id: int,
    session: ReviewSessionInfo,
    assignment: Any,
    rating: CheckedRating,
    at_ms: int,
) -> None:
    """Cast the rating's vote through the one vote path; a draft withdraws the vote the session cast."""
    prompt_id, rater = assignment.item_prompt_id, assignment.rater
    if rating.vote is None:
        if assignment.vote is not None:
            clear_votes(connection, project_id, [VoteClear(prompt_id, rater, at_ms)])
        return
    row = vote_row(
        project_id,
        prompt_id=prompt_id,
        user_id=rater,
        value=rating.vote,
        comment=rating.comment,
        team_session=session.name,
        at_ms=at_ms,
    )
    upsert_votes(connection, project_id, [row])


def _record_verdict(
    connection: Connection,
    project_id: int,
    session: ReviewSessionInfo,
    assignment: Any,
    comparison_id: str | None,
    rating: CheckedRating,
    at_ms: int,
) -> str | None:
    if rating.winner is None:
        if comparison_id is not None:
            connection.execute(delete(COMPARISONS).where(COMPARISONS.c.id == comparison_id))
        return None
    if comparison_id is not None:
        changed = connection.execute(
            update(COMPARISONS)
            .where(COMPARISONS.c.id == comparison_id)
            .values(winner=rating.winner, comment=rating.comment, decided_ms=at_ms)
        ).rowcount
        if changed:
            return comparison_id
    return _new_comparison(connection, project_id, session, assignment, rating, at_ms)


def _new_comparison(
    connection: Connection,
    project_id: int,
    session: ReviewSessionInfo,
    assignment: Any,
    rating: CheckedRating,
    at_ms: int,
) -> str:
    prompt_ids = [assignment.item_prompt_id, assignment.item_prompt_id_b]
    turns = {
        row.prompt_id: row
        for row in connection.execute(
            select(TURNS.c.prompt_id, TURNS.c.model, TURNS.c.prompt_text).where(
                TURNS.c.project_id == project_id, TURNS.c.prompt_id.in_(prompt_ids)
            )
        )
    }
    first, second = turns.get(prompt_ids[0]), turns.get(prompt_ids[1])
    label_a = assignment.item_variant or (first.model if first else prompt_ids[0])
    label_b = assignment.item_variant_b or (second.model if second else prompt_ids[1])
    comparison_id = uuid.uuid4().hex
    connection.execute(
        insert(COMPARISONS),
        {
            "id": comparison_id,
            "project_id": project_id,
            "user_id": assignment.rater,
            "team_session": session.name,
            "prompt": (first.prompt_text if first else None) or UNCAPTURED_PROMPT,
            "variant_a": {"model": first.model if first else label_a, "label": label_a},
            "variant_b": {"model": second.model if second else label_b, "label": label_b},
            "label_a": label_a,
            "label_b": label_b,
            "prompt_id_a": prompt_ids[0],
            "prompt_id_b": prompt_ids[1],
            "blind": session.blind,
            "a_shown_first": True,
            "winner": rating.winner,
            "comment": rating.comment,
            "created_ms": at_ms,
            "decided_ms": at_ms,
        },
    )
    return comparison_id
