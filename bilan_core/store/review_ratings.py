"""Rating an item of a review session, and what a rating also counts as, in the same transaction.

A complete rating of a single answer is also the rater's vote on that turn (through the one vote
path, ``store.votes``, labelled with the session's name as its team session), so Analytics, trust
and the roll-ups see it. A verdict on a pair is also stored as a decided comparison of the two
variants, so the Bradley–Terry leaderboard counts it. Rating again replaces the rater's rating and
that vote or comparison; a draft (no vote or verdict) withdraws them.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from bilan_core.clock import now_ms
from bilan_core.limits import check_label
from bilan_core.store.engine import write_transaction
from bilan_core.store.models import COMPARISONS, TURNS
from bilan_core.store.review_models import LAPSED, OPEN, RATED, ReviewRating, ReviewSessionInfo
from bilan_core.store.review_rubric import CheckedRating
from bilan_core.store.review_tables import REVIEW_ASSIGNMENTS, REVIEW_ITEMS
from bilan_core.store.reviews import assignment_row, change_load, load_of, open_session_row
from bilan_core.store.votes import VoteClear, clear_votes, upsert_votes, vote_row

UNCAPTURED_PROMPT = "(prompt not captured)"


def rate_item(
    engine: Engine,
    *,
    project_id: int,
    session: ReviewSessionInfo,
    item_id: int,
    rater: str,
    rating: CheckedRating,
    at_ms: int | None = None,
) -> ReviewRating:
    """Store the rater's rating of an item handed to them (replacing theirs), with its vote or verdict."""
    rater = check_label("rater", rater)
    at = now_ms() if at_ms is None else at_ms
    with write_transaction(engine) as connection:
        open_session_row(connection, project_id, session.id, lock="share")
        assignment = assignment_row(connection, session.id, item_id, rater)
        item = connection.execute(select(REVIEW_ITEMS).where(REVIEW_ITEMS.c.id == item_id)).one()
        state = RATED if rating.complete else (LAPSED if assignment.state == LAPSED else OPEN)
        comparison_id = assignment.comparison_id
        if session.pairwise:
            comparison_id = _record_verdict(
                connection, project_id, session, item, rater, comparison_id, rating, at
            )
        else:
            _record_vote(connection, project_id, session, item.prompt_id, rater, rating, at)
            if rating.vote is None and assignment.vote is not None:  # the draft withdraws the session's vote
                clear_votes(connection, project_id, [VoteClear(item.prompt_id, rater, at)])
        connection.execute(
            update(REVIEW_ASSIGNMENTS)
            .where(REVIEW_ASSIGNMENTS.c.id == assignment.id)
            .values(
                state=state,
                vote=rating.vote,
                winner=rating.winner,
                scores=rating.scores or None,
                comment=rating.comment,
                comparison_id=comparison_id,
                rated_ms=at,
            )
        )
        change_load(connection, item_id, load_of(state) - load_of(assignment.state))
    return ReviewRating(
        session_id=session.id,
        item_id=item_id,
        rater=rater,
        vote=rating.vote,
        winner=rating.winner,
        scores=rating.scores,
        comment=rating.comment,
        complete=rating.complete,
        rated_ms=at,
    )


def _record_vote(
    connection: Connection,
    project_id: int,
    session: ReviewSessionInfo,
    prompt_id: str,
    rater: str,
    rating: CheckedRating,
    at_ms: int,
) -> None:
    if rating.vote is None:
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
    item: Any,
    rater: str,
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
    return _new_comparison(connection, project_id, session, item, rater, rating, at_ms)


def _new_comparison(
    connection: Connection,
    project_id: int,
    session: ReviewSessionInfo,
    item: Any,
    rater: str,
    rating: CheckedRating,
    at_ms: int,
) -> str:
    turns = {
        row.prompt_id: row
        for row in connection.execute(
            select(TURNS.c.prompt_id, TURNS.c.model, TURNS.c.prompt_text).where(
                TURNS.c.project_id == project_id, TURNS.c.prompt_id.in_([item.prompt_id, item.prompt_id_b])
            )
        )
    }
    first, second = turns.get(item.prompt_id), turns.get(item.prompt_id_b)
    label_a = item.variant or (first.model if first else item.prompt_id)
    label_b = item.variant_b or (second.model if second else item.prompt_id_b)
    comparison_id = uuid.uuid4().hex
    connection.execute(
        insert(COMPARISONS),
        {
            "id": comparison_id,
            "project_id": project_id,
            "user_id": rater,
            "team_session": session.name,
            "prompt": (first.prompt_text if first else None) or UNCAPTURED_PROMPT,
            "variant_a": {"model": first.model if first else label_a, "label": label_a},
            "variant_b": {"model": second.model if second else label_b, "label": label_b},
            "label_a": label_a,
            "label_b": label_b,
            "prompt_id_a": item.prompt_id,
            "prompt_id_b": item.prompt_id_b,
            "blind": session.blind,
            "a_shown_first": True,
            "winner": rating.winner,
            "comment": rating.comment,
            "created_ms": at_ms,
            "decided_ms": at_ms,
        },
    )
    return comparison_id
