"""Review sessions' reads: one item as a rater sees it, the ratings, the items and each rater's progress."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Engine, and_, bindparam, case, func, select
from sqlalchemy.sql import Select

from bilan_core.limits import check_label
from bilan_core.store.models import TURNS
from bilan_core.store.review_models import (
    LAPSED,
    OPEN,
    RATED,
    SESSION_OPEN,
    SKIPPED,
    RaterProgress,
    ReviewItemRow,
    ReviewItemView,
    ReviewRating,
    ReviewRatingRow,
    ReviewSessionInfo,
)
from bilan_core.store.review_tables import REVIEW_ASSIGNMENTS, REVIEW_ITEMS, REVIEW_RATERS
from bilan_core.store.reviews import assignment_row, session_info, session_row

ASSIGNED, SIDE_B = REVIEW_ASSIGNMENTS, TURNS.alias("turn_b")


def revealed(session: ReviewSessionInfo) -> bool:
    """Whether raters may see models, variants and prompt versions: an open session, or a closed one."""
    return not session.blind or session.status != SESSION_OPEN


def item_view(
    engine: Engine, *, project_id: int, session_id: str, item_id: int, rater: str
) -> ReviewItemView:
    """An item handed to ``rater``, with their rating and counts; blind sessions hide the variants."""
    rater = check_label("rater", rater)
    with engine.connect() as connection:
        session = session_info(session_row(connection, project_id, session_id))
        assignment = assignment_row(connection, session_id, item_id, rater)
        prompt_ids = [assignment.item_prompt_id, assignment.item_prompt_id_b]
        sides = {
            row.prompt_id: row
            for row in connection.execute(_turns_statement(), {"project": project_id, "ids": prompt_ids})
        }
        keys = {"session": session_id, "rater": rater, "seq": assignment.seq, "k": session.raters_per_item}
        counts = connection.execute(_counts_statement(session.raters_per_item is not None), keys).one()
    first, second = sides.get(prompt_ids[0]), sides.get(prompt_ids[1] or "")
    shown = revealed(session)
    return ReviewItemView(
        session_id=session_id,
        item_id=item_id,
        position=assignment.seq,
        state=assignment.state,
        messages=first.messages if first else None,
        prompt=first.prompt_text if first else None,
        answer=first.response if first else None,
        answer_b=second.response if second else None,
        pairwise=session.pairwise,
        revealed=shown,
        model=first.model if first and shown else None,
        model_b=second.model if second and shown else None,
        variant=assignment.item_variant if shown else None,
        variant_b=assignment.item_variant_b if shown else None,
        prompt_version=_version(first) if shown else None,
        prompt_version_b=_version(second) if shown else None,
        rating=_rating(session_id, assignment),
        rated_by_you=int(counts.rated or 0),
        total_for_you=int(counts.rated or 0) + int(counts.holding or 0) + int(counts.fresh or 0),
        previous_item_id=counts.previous,
        next_item_id=counts.next,
    )


@cache
def _turns_statement() -> Any:
    return select(
        TURNS.c.prompt_id,
        TURNS.c.messages,
        TURNS.c.prompt_text,
        TURNS.c.response,
        TURNS.c.model,
        TURNS.c.prompt_version,
        TURNS.c.prompt_name,
        TURNS.c.prompt_number,
    ).where(
        TURNS.c.project_id == bindparam("project"), TURNS.c.prompt_id.in_(bindparam("ids", expanding=True))
    )


def _version(turn: Any) -> str | None:
    if turn is None:
        return None
    if turn.prompt_name is not None:
        return f"{turn.prompt_name} v{turn.prompt_number}"
    return turn.prompt_version


def _rating(session_id: str, assignment: Any) -> ReviewRating | None:
    if assignment.rated_ms is None:
        return None
    return ReviewRating(
        session_id=session_id,
        item_id=assignment.item_id,
        rater=assignment.rater,
        vote=assignment.vote,
        winner=assignment.winner,
        scores=assignment.scores or {},
        comment=assignment.comment,
        complete=assignment.state == RATED,
        rated_ms=assignment.rated_ms,
    )


def _available_items(session_id: Any, limit: Any) -> Select[Any]:
    """A session's items that may still be handed out (below ``limit`` raters, when there is one)."""
    statement = select(REVIEW_ITEMS.c.id).where(REVIEW_ITEMS.c.session_id == session_id)
    return statement if limit is None else statement.where(REVIEW_ITEMS.c.load < limit)


@cache
def _counts_statement(limited: bool) -> Any:
    """A rater's ratings, the items they hold unrated, the items they may still get, and the items
    handed to them just before and after the one at ``seq`` (for Back and Next)."""
    mine = and_(ASSIGNED.c.session_id == bindparam("session"), ASSIGNED.c.rater == bindparam("rater"))
    rated = select(func.count()).where(mine, ASSIGNED.c.state == RATED).scalar_subquery()
    holding = select(func.count()).where(mine, ASSIGNED.c.state.in_([OPEN, LAPSED])).scalar_subquery()
    available = _available_items(bindparam("session"), bindparam("k") if limited else None)
    fresh = available.where(REVIEW_ITEMS.c.id.not_in(select(ASSIGNED.c.item_id).where(mine))).subquery()
    fresh_count = select(func.count()).select_from(fresh).scalar_subquery()
    previous = (
        select(ASSIGNED.c.item_id).where(mine, ASSIGNED.c.seq == bindparam("seq") - 1).scalar_subquery()
    )
    following = (
        select(ASSIGNED.c.item_id).where(mine, ASSIGNED.c.seq == bindparam("seq") + 1).scalar_subquery()
    )
    return select(
        rated.label("rated"),
        holding.label("holding"),
        fresh_count.label("fresh"),
        previous.label("previous"),
        following.label("next"),
    )


def rater_progress(engine: Engine, *, project_id: int, session_id: str) -> list[RaterProgress]:
    """Per rater who joined or was handed an item: rated, skipped, drafts and remaining, by name."""
    with engine.connect() as connection:
        session = session_info(session_row(connection, project_id, session_id))
        joined = connection.execute(
            select(REVIEW_RATERS.c.rater).where(REVIEW_RATERS.c.session_id == session_id)
        ).scalars()
        counts = connection.execute(
            select(
                ASSIGNED.c.rater,
                func.sum(case((ASSIGNED.c.state == RATED, 1), else_=0)),
                func.sum(case((ASSIGNED.c.state == SKIPPED, 1), else_=0)),
                func.sum(
                    case((and_(ASSIGNED.c.state != RATED, ASSIGNED.c.comment.is_not(None)), 1), else_=0)
                ),
                func.sum(case((ASSIGNED.c.state.in_([OPEN, LAPSED]), 1), else_=0)),
            )
            .where(ASSIGNED.c.session_id == session_id)
            .group_by(ASSIGNED.c.rater)
        ).all()
        available = _available_items(session.id, session.raters_per_item).subquery()
        total_available = connection.execute(select(func.count()).select_from(available)).scalar_one()
        taken: dict[str, int] = dict(
            connection.execute(
                select(ASSIGNED.c.rater, func.count())
                .where(ASSIGNED.c.session_id == session_id, ASSIGNED.c.item_id.in_(select(available.c.id)))
                .group_by(ASSIGNED.c.rater)
            ).all()
        )
    by_rater = {rater: RaterProgress(rater=rater, remaining=int(total_available)) for rater in joined}
    for rater, rated, skipped, drafts, holding in counts:
        open_now = 0 if session.status != SESSION_OPEN else int(holding or 0)
        fresh = 0 if session.status != SESSION_OPEN else int(total_available) - int(taken.get(rater, 0))
        by_rater[rater] = RaterProgress(
            rater=rater,
            rated=int(rated or 0),
            skipped=int(skipped or 0),
            drafts=int(drafts or 0),
            remaining=open_now + fresh,
        )
    if session.status != SESSION_OPEN:
        by_rater = {name: one.model_copy(update={"remaining": 0}) for name, one in by_rater.items()}
    return [by_rater[name] for name in sorted(by_rater)]


def _item_columns() -> list[Any]:
    return [
        REVIEW_ITEMS.c.id.label("item_id"),
        REVIEW_ITEMS.c.position,
        REVIEW_ITEMS.c.prompt_id,
        REVIEW_ITEMS.c.prompt_id_b,
        REVIEW_ITEMS.c.variant,
        REVIEW_ITEMS.c.variant_b,
        TURNS.c.model,
        SIDE_B.c.model.label("model_b"),
        TURNS.c.prompt_version,
        SIDE_B.c.prompt_version.label("prompt_version_b"),
    ]


def _with_turns(statement: Select[Any], project_id: int) -> Select[Any]:
    return statement.outerjoin(
        TURNS, and_(TURNS.c.project_id == project_id, TURNS.c.prompt_id == REVIEW_ITEMS.c.prompt_id)
    ).outerjoin(
        SIDE_B, and_(SIDE_B.c.project_id == project_id, SIDE_B.c.prompt_id == REVIEW_ITEMS.c.prompt_id_b)
    )


def rating_rows(engine: Engine, *, project_id: int, session_id: str) -> list[ReviewRatingRow]:
    """Every complete rating of the session with its item's source, by item position then rater."""
    statement = _with_turns(
        select(
            *_item_columns(),
            ASSIGNED.c.rater,
            ASSIGNED.c.vote,
            ASSIGNED.c.winner,
            ASSIGNED.c.scores,
            ASSIGNED.c.comment,
            ASSIGNED.c.rated_ms,
        ).select_from(ASSIGNED.join(REVIEW_ITEMS, REVIEW_ITEMS.c.id == ASSIGNED.c.item_id)),
        project_id,
    )
    statement = statement.where(ASSIGNED.c.session_id == session_id, ASSIGNED.c.state == RATED).order_by(
        REVIEW_ITEMS.c.position, ASSIGNED.c.rater
    )
    with engine.connect() as connection:
        session_row(connection, project_id, session_id)
        rows = connection.execute(statement).all()
    return [ReviewRatingRow(**{**row._asdict(), "scores": row.scores or {}}) for row in rows]


def item_rows(engine: Engine, *, project_id: int, session_id: str) -> list[ReviewItemRow]:
    """Every item of the session in position order, with its texts, source and rating counts."""
    counts = (
        select(
            ASSIGNED.c.item_id,
            func.sum(case((ASSIGNED.c.state == RATED, 1), else_=0)).label("ratings"),
            func.sum(case((ASSIGNED.c.state == SKIPPED, 1), else_=0)).label("skips"),
        )
        .where(ASSIGNED.c.session_id == session_id)
        .group_by(ASSIGNED.c.item_id)
        .subquery()
    )
    statement = _with_turns(
        select(
            *_item_columns(),
            REVIEW_ITEMS.c.dataset_position,
            TURNS.c.prompt_text.label("prompt"),
            TURNS.c.response.label("answer"),
            SIDE_B.c.response.label("answer_b"),
            func.coalesce(counts.c.ratings, 0).label("ratings"),
            func.coalesce(counts.c.skips, 0).label("skips"),
        ).select_from(REVIEW_ITEMS.outerjoin(counts, counts.c.item_id == REVIEW_ITEMS.c.id)),
        project_id,
    )
    statement = statement.where(REVIEW_ITEMS.c.session_id == session_id).order_by(REVIEW_ITEMS.c.position)
    with engine.connect() as connection:
        session_row(connection, project_id, session_id)
        rows = connection.execute(statement).all()
    return [ReviewItemRow(**row._asdict()) for row in rows]
