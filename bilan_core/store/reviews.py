"""Review sessions' writes: create, join, skip, close, and the rows every review write reads (each
scoped to a project). The handout is in ``store.review_handout``, rating in ``store.review_ratings``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from bilan_core.clock import now_ms
from bilan_core.errors import (
    EmptyReviewSourceError,
    InvalidRatingError,
    ReviewItemNotAssignedError,
    ReviewItemNotFoundError,
    ReviewSessionClosedError,
    ReviewSessionNotFoundError,
)
from bilan_core.limits import check_label
from bilan_core.store.engine import write_transaction
from bilan_core.store.review_models import (
    OPEN,
    RATED,
    SESSION_CLOSED,
    SESSION_OPEN,
    SKIPPED,
    NewReviewItem,
    NewReviewSession,
    ReviewSessionInfo,
)
from bilan_core.store.review_rubric import (
    check_criteria,
    check_instructions,
    check_raters_per_item,
    check_session_name,
)
from bilan_core.store.review_tables import REVIEW_ASSIGNMENTS, REVIEW_ITEMS, REVIEW_RATERS, REVIEW_SESSIONS
from bilan_core.store.upsert import insert_for

MAX_REVIEW_ITEMS = 10_000
# An assignment in these states counts towards its item's raters (``review_items.load``).
LIVE_STATES = frozenset({OPEN, RATED})


def change_load(connection: Connection, item_id: int, delta: int) -> None:
    """Add ``delta`` to an item's count of live handouts."""
    if delta:
        connection.execute(_load_statement(), {"item": item_id, "delta": delta})


@cache
def _load_statement() -> Any:
    load = REVIEW_ITEMS.c.load
    return (
        update(REVIEW_ITEMS)
        .where(REVIEW_ITEMS.c.id == bindparam("item"))
        .values(load=load + bindparam("delta"))
    )


def load_of(state: str) -> int:
    """How much an assignment in ``state`` counts towards its item's raters: 1 if live, else 0."""
    return 1 if state in LIVE_STATES else 0


def session_info(row: Any) -> ReviewSessionInfo:
    """A stored session row as its public shape."""
    return ReviewSessionInfo(
        id=row.id,
        name=row.name,
        status=row.status,
        pairwise=bool(row.pairwise),
        criteria=tuple(row.criteria or ()),
        raters_per_item=row.raters_per_item,
        blind=bool(row.blind),
        instructions=row.instructions,
        item_count=row.item_count,
        created_by=row.created_by,
        created_ms=row.created_ms,
        closed_ms=row.closed_ms,
        source=row.source or {},
    )


def create_session(
    engine: Engine, *, project_id: int, new: NewReviewSession, items: Sequence[NewReviewItem]
) -> ReviewSessionInfo:
    """Store a session and all of its items in one transaction (nothing if one is refused)."""
    if not items:
        raise EmptyReviewSourceError("no recorded answer matches: the session would have nothing to rate")
    if len(items) > MAX_REVIEW_ITEMS:
        raise ValueError(
            f"the source holds {len(items):,} items; a session takes at most {MAX_REVIEW_ITEMS:,} "
            "(use sample=)"
        )
    if new.pairwise and any(item.prompt_id_b is None for item in items):
        raise ValueError("a pairwise session's items need two answers each")
    row = {
        "id": uuid.uuid4().hex,
        "project_id": project_id,
        "name": check_session_name(new.name),
        "status": SESSION_OPEN,
        "pairwise": new.pairwise,
        "criteria": list(check_criteria(new.criteria)),
        "raters_per_item": check_raters_per_item(new.raters_per_item),
        "blind": new.blind,
        "instructions": check_instructions(new.instructions),
        "source": new.source,
        "item_count": len(items),
        "created_by": check_label("created_by", new.created_by),
        "created_ms": now_ms(),
        "closed_ms": None,
    }
    item_rows = [
        {"session_id": row["id"], "position": position, "load": 0, **item.model_dump()}
        for position, item in enumerate(items, start=1)
    ]
    with write_transaction(engine) as connection:
        connection.execute(insert(REVIEW_SESSIONS), row)
        connection.execute(insert(REVIEW_ITEMS), item_rows)
    return session_info(SimpleNamespace(**row))


def get_session(engine: Engine, *, project_id: int, session_id: str) -> ReviewSessionInfo:
    """One session of the project; ReviewSessionNotFoundError if there is none with that id."""
    with engine.connect() as connection:
        return session_info(session_row(connection, project_id, session_id))


def list_sessions(engine: Engine, *, project_id: int, limit: int) -> list[ReviewSessionInfo]:
    """The project's sessions, newest first (at most ``limit``)."""
    statement = (
        select(REVIEW_SESSIONS)
        .where(REVIEW_SESSIONS.c.project_id == project_id)
        .order_by(REVIEW_SESSIONS.c.created_ms.desc(), REVIEW_SESSIONS.c.id)
        .limit(limit)
    )
    with engine.connect() as connection:
        return [session_info(row) for row in connection.execute(statement)]


def session_row(connection: Connection, project_id: int, session_id: str, *, lock: str | None = None) -> Any:
    """The session's row (locked ``update`` or ``share`` on PostgreSQL when asked); not found raises."""
    row = connection.execute(_session_statement(lock), {"project": project_id, "session": session_id}).first()
    if row is None:
        raise ReviewSessionNotFoundError(f"no review session has id {session_id!r}")
    return row


@cache
def _session_statement(lock: str | None) -> Any:
    statement = select(REVIEW_SESSIONS).where(
        REVIEW_SESSIONS.c.project_id == bindparam("project"), REVIEW_SESSIONS.c.id == bindparam("session")
    )
    return statement if lock is None else statement.with_for_update(read=lock == "share")


def open_session_row(connection: Connection, project_id: int, session_id: str, *, lock: str) -> Any:
    """The session's row, locked; ReviewSessionClosedError once it is closed."""
    row = session_row(connection, project_id, session_id, lock=lock)
    if row.status != SESSION_OPEN:
        raise ReviewSessionClosedError(f"review session {row.name!r} is closed: it takes no more ratings")
    return row


def assignment_row(connection: Connection, session_id: str, item_id: int, rater: str) -> Any:
    """The rater's assignment of an item with its item's columns (``item_*``); which error if none."""
    keys = {"session": session_id, "item": item_id, "rater": rater}
    found = connection.execute(_assignment_statement(), keys).first()
    if found is not None:
        return found
    if connection.execute(_item_statement(), keys).first() is None:
        raise ReviewItemNotFoundError(f"the review session has no item {item_id!r}")
    raise ReviewItemNotAssignedError(f"item {item_id} was not handed to this rater; ask for the next item")


@cache
def _assignment_statement() -> Any:
    item_columns = [
        REVIEW_ITEMS.c[name].label(f"item_{name}")
        for name in ("prompt_id", "prompt_id_b", "variant", "variant_b", "load")
    ]
    return (
        select(REVIEW_ASSIGNMENTS, *item_columns)
        .join(REVIEW_ITEMS, REVIEW_ITEMS.c.id == REVIEW_ASSIGNMENTS.c.item_id)
        .where(
            REVIEW_ASSIGNMENTS.c.item_id == bindparam("item"),
            REVIEW_ASSIGNMENTS.c.rater == bindparam("rater"),
            REVIEW_ASSIGNMENTS.c.session_id == bindparam("session"),
        )
    )


@cache
def _item_statement() -> Any:
    return select(REVIEW_ITEMS.c.id).where(
        REVIEW_ITEMS.c.id == bindparam("item"), REVIEW_ITEMS.c.session_id == bindparam("session")
    )


def join_session(
    engine: Engine, *, project_id: int, session_id: str, rater: str, at_ms: int | None = None
) -> None:
    """Record that ``rater`` joined an open session (joining again changes nothing)."""
    rater = check_label("rater", rater)
    with write_transaction(engine) as connection:
        open_session_row(connection, project_id, session_id, lock="share")
        add_rater(connection, session_id, rater, now_ms() if at_ms is None else at_ms)


def add_rater(connection: Connection, session_id: str, rater: str, at_ms: int) -> None:
    """Record a session's rater, unless they are recorded already."""
    values = {"session_id": session_id, "rater": rater, "joined_ms": at_ms}
    connection.execute(_add_rater_statement(connection.dialect.name), values)


@cache
def _add_rater_statement(dialect: str) -> Any:
    return insert_for(dialect, REVIEW_RATERS).on_conflict_do_nothing(index_elements=["session_id", "rater"])


def close_session(engine: Engine, *, project_id: int, session_id: str) -> ReviewSessionInfo:
    """Close a session: no more handouts or ratings, and a blind session shows its models (idempotent)."""
    with write_transaction(engine) as connection:
        row = session_row(connection, project_id, session_id, lock="update")
        if row.status == SESSION_OPEN:
            connection.execute(
                update(REVIEW_SESSIONS)
                .where(REVIEW_SESSIONS.c.id == session_id)
                .values(status=SESSION_CLOSED, closed_ms=now_ms())
            )
        row = session_row(connection, project_id, session_id)
    return session_info(row)


def skip_item(engine: Engine, *, project_id: int, session_id: str, item_id: int, rater: str) -> None:
    """Pass on an item handed to the rater: it goes to someone else, and never back to this rater."""
    rater = check_label("rater", rater)
    with write_transaction(engine) as connection:
        open_session_row(connection, project_id, session_id, lock="share")
        assignment = assignment_row(connection, session_id, item_id, rater)
        if assignment.state == RATED:
            raise InvalidRatingError(f"item {item_id} is already rated by you; rate it again to change it")
        connection.execute(
            update(REVIEW_ASSIGNMENTS).where(REVIEW_ASSIGNMENTS.c.id == assignment.id).values(state=SKIPPED)
        )
        change_load(connection, item_id, -load_of(assignment.state))


def recount_sessions(engine: Engine, *, project_id: int | None) -> None:
    """Count again each session's items and each item's live handouts (after rows were deleted)."""
    scope = select(REVIEW_SESSIONS.c.id)
    if project_id is not None:
        scope = scope.where(REVIEW_SESSIONS.c.project_id == project_id)
    live = (
        select(func.count())
        .where(REVIEW_ASSIGNMENTS.c.item_id == REVIEW_ITEMS.c.id, REVIEW_ASSIGNMENTS.c.state.in_(LIVE_STATES))
        .scalar_subquery()
    )
    items = select(func.count()).where(REVIEW_ITEMS.c.session_id == REVIEW_SESSIONS.c.id).scalar_subquery()
    with write_transaction(engine) as connection:
        connection.execute(update(REVIEW_ITEMS).where(REVIEW_ITEMS.c.session_id.in_(scope)).values(load=live))
        connection.execute(
            update(REVIEW_SESSIONS).where(REVIEW_SESSIONS.c.id.in_(scope)).values(item_count=items)
        )
