"""Handing out a review session's next item to a rater, in one transaction.

The rule, run while holding the session's write lock (SQLite ``BEGIN IMMEDIATE``; on PostgreSQL the
session row ``FOR UPDATE``), so raters asking at once are served one after the other:
1. A rater who holds an open assignment gets it again (a reload never takes a second item).
2. An open assignment not rated within ``LEASE_MS`` (10 minutes) lapses: it stops counting towards
   its item's raters, so the item may go to someone else. The rater who let it lapse can still rate
   it (through ``ReviewSession.item``, e.g. Back); the item then has one rating more than asked.
3. Otherwise the rater gets the item with the fewest live handouts (ratings and open assignments),
   then the lowest position, among the items not yet handed to them and below ``raters_per_item``.
   So every item reaches k raters before any gets more, and nobody gets one item twice.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, select, update

from bilan_core.clock import now_ms
from bilan_core.limits import check_label
from bilan_core.store.db_errors import retried
from bilan_core.store.engine import write_transaction
from bilan_core.store.review_models import LAPSED, OPEN, SESSION_OPEN
from bilan_core.store.review_tables import REVIEW_ASSIGNMENTS, REVIEW_ITEMS
from bilan_core.store.reviews import add_rater, change_load, session_row

LEASE_MS = 10 * 60 * 1000
ASSIGNED = REVIEW_ASSIGNMENTS


def hand_out(
    engine: Engine, *, project_id: int, session_id: str, rater: str, at_ms: int | None = None
) -> int | None:
    """The item id the rater should rate next (handed out now, or their open one); None when done."""
    rater = check_label("rater", rater)
    at = now_ms() if at_ms is None else at_ms
    return retried(lambda: _hand_out_once(engine, project_id, session_id, rater, at))


def _hand_out_once(engine: Engine, project_id: int, session_id: str, rater: str, at_ms: int) -> int | None:
    keys = {"session": session_id, "rater": rater}
    with write_transaction(engine) as connection:
        session = session_row(connection, project_id, session_id, lock="update")
        if session.status != SESSION_OPEN:
            return None
        lapse_expired(connection, session_id, before_ms=at_ms - LEASE_MS)
        current = connection.execute(_open_statement(), keys).scalar()
        if current is not None:
            return int(current)
        limited = session.raters_per_item is not None
        found = connection.execute(_least_covered_statement(limited), {**keys, "k": session.raters_per_item})
        item_id = found.scalar()
        if item_id is not None:
            _assign(connection, session_id, int(item_id), rater, at_ms)
        return None if item_id is None else int(item_id)


def lapse_expired(connection: Connection, session_id: str, *, before_ms: int) -> None:
    """Lapse the session's open assignments handed out before ``before_ms``; their items lose that load."""
    lapsed = connection.execute(_lapse_statement(), {"session": session_id, "before": before_ms}).scalars()
    for item_id, count in Counter(lapsed).items():
        change_load(connection, item_id, -count)


@cache
def _lapse_statement() -> Any:
    return (
        update(ASSIGNED)
        .where(
            ASSIGNED.c.session_id == bindparam("session"),
            ASSIGNED.c.state == OPEN,
            ASSIGNED.c.handed_ms < bindparam("before"),
        )
        .values(state=LAPSED)
        .returning(ASSIGNED.c.item_id)
    )


@cache
def _open_statement() -> Any:
    return (
        select(ASSIGNED.c.item_id)
        .where(
            ASSIGNED.c.session_id == bindparam("session"),
            ASSIGNED.c.rater == bindparam("rater"),
            ASSIGNED.c.state == OPEN,
        )
        .order_by(ASSIGNED.c.seq)
        .limit(1)
    )


@cache
def _least_covered_statement(limited: bool) -> Any:
    handed_to_rater = select(ASSIGNED.c.item_id).where(
        ASSIGNED.c.session_id == bindparam("session"), ASSIGNED.c.rater == bindparam("rater")
    )
    statement = (
        select(REVIEW_ITEMS.c.id)
        .where(REVIEW_ITEMS.c.session_id == bindparam("session"), REVIEW_ITEMS.c.id.not_in(handed_to_rater))
        .order_by(REVIEW_ITEMS.c.load, REVIEW_ITEMS.c.position)
        .limit(1)
    )
    return statement.where(REVIEW_ITEMS.c.load < bindparam("k")) if limited else statement


@cache
def _assign_statement() -> Any:
    """Insert the assignment numbered next in the rater's queue (one more than their last)."""
    mine = and_(ASSIGNED.c.session_id == bindparam("p_session"), ASSIGNED.c.rater == bindparam("p_rater"))
    next_seq = select(func.coalesce(func.max(ASSIGNED.c.seq), 0) + 1).where(mine).scalar_subquery()
    values = {
        "session_id": bindparam("p_session"),
        "item_id": bindparam("p_item"),
        "rater": bindparam("p_rater"),
        "seq": next_seq,
        "state": OPEN,
        "handed_ms": bindparam("p_at"),
    }
    return insert(ASSIGNED).values(values)


def _assign(connection: Connection, session_id: str, item_id: int, rater: str, at_ms: int) -> None:
    add_rater(connection, session_id, rater, at_ms)
    keys = {"p_session": session_id, "p_item": item_id, "p_rater": rater, "p_at": at_ms}
    connection.execute(_assign_statement(), keys)
    change_load(connection, item_id, 1)
