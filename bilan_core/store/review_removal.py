"""What forgetting a user and pruning old data remove of review sessions (for ``forget``, ``retention``).

Forgetting a user removes the items handed to them with their ratings, their membership of sessions,
and every item that shows one of their answers (with its handouts and ratings). Pruning removes
handouts and ratings last changed before the cutoff, items showing a turn that goes, members who
joined before it, and sessions made before it that keep no item. Sessions themselves, like datasets,
are the team's configuration: forgetting a user keeps the sessions they made. Each item's count of
live handouts and each session's count of items are counted again afterwards.
"""

from __future__ import annotations

from sqlalchemy import Table, and_, exists, func, not_, or_, select, true
from sqlalchemy.sql import ColumnElement, Select

from bilan_core.store.models import TURNS
from bilan_core.store.removal import Step
from bilan_core.store.review_tables import REVIEW_ASSIGNMENTS, REVIEW_ITEMS, REVIEW_RATERS, REVIEW_SESSIONS


def _sessions(project_id: int | None) -> Select[tuple[str]]:
    found = select(REVIEW_SESSIONS.c.id)
    return found if project_id is None else found.where(REVIEW_SESSIONS.c.project_id == project_id)


def _items_showing(
    prompt_ids: ColumnElement[bool] | Select[tuple[str]], project_id: int
) -> ColumnElement[bool]:
    return and_(
        REVIEW_ITEMS.c.session_id.in_(_sessions(project_id)),
        or_(REVIEW_ITEMS.c.prompt_id.in_(prompt_ids), REVIEW_ITEMS.c.prompt_id_b.in_(prompt_ids)),
    )


def forget_steps(user_id: str, project_id: int, prompt_ids: Select[tuple[str]]) -> list[Step]:
    """The review rows of ``user_id`` (a rater) and of their answers (``prompt_ids``), in order."""
    items = select(REVIEW_ITEMS.c.id).where(_items_showing(prompt_ids, project_id))
    in_project = REVIEW_ASSIGNMENTS.c.session_id.in_(_sessions(project_id))
    return [
        Step(
            "review_assignments",
            REVIEW_ASSIGNMENTS,
            and_(
                in_project,
                or_(REVIEW_ASSIGNMENTS.c.rater == user_id, REVIEW_ASSIGNMENTS.c.item_id.in_(items)),
            ),
        ),
        Step("review_items", REVIEW_ITEMS, _items_showing(prompt_ids, project_id)),
        Step(
            "review_raters",
            REVIEW_RATERS,
            and_(REVIEW_RATERS.c.session_id.in_(_sessions(project_id)), REVIEW_RATERS.c.rater == user_id),
        ),
    ]


def _scoped(table: Table, project_id: int | None) -> ColumnElement[bool]:
    return table.c.session_id.in_(_sessions(project_id)) if project_id is not None else true()


def prune_steps(cutoff: int, project_id: int | None) -> list[Step]:
    """The review rows older than ``cutoff`` or showing turns older than it, in order."""
    old_turn = exists().where(
        TURNS.c.prompt_id.in_([REVIEW_ITEMS.c.prompt_id, REVIEW_ITEMS.c.prompt_id_b]),
        TURNS.c.project_id == REVIEW_SESSIONS.c.project_id,
        REVIEW_SESSIONS.c.id == REVIEW_ITEMS.c.session_id,
        TURNS.c.created_ms < cutoff,
    )
    old_items = and_(_scoped(REVIEW_ITEMS, project_id), old_turn)
    old_assignment = or_(
        func.coalesce(REVIEW_ASSIGNMENTS.c.rated_ms, REVIEW_ASSIGNMENTS.c.handed_ms) < cutoff,
        REVIEW_ASSIGNMENTS.c.item_id.in_(select(REVIEW_ITEMS.c.id).where(old_items)),
    )
    no_item = not_(exists().where(REVIEW_ITEMS.c.session_id == REVIEW_SESSIONS.c.id))
    sessions = REVIEW_SESSIONS.c.project_id == project_id if project_id is not None else true()
    return [
        Step(
            "review_assignments",
            REVIEW_ASSIGNMENTS,
            and_(_scoped(REVIEW_ASSIGNMENTS, project_id), old_assignment),
        ),
        Step("review_items", REVIEW_ITEMS, old_items),
        Step(
            "review_raters",
            REVIEW_RATERS,
            and_(_scoped(REVIEW_RATERS, project_id), REVIEW_RATERS.c.joined_ms < cutoff),
        ),
        Step(
            "review_sessions", REVIEW_SESSIONS, and_(sessions, REVIEW_SESSIONS.c.created_ms < cutoff, no_item)
        ),
    ]
