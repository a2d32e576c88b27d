"""Forgetting a user: every row that holds their data, in one project, deleted in short batches.

What goes, in this order:
- events the user sent, events of their conversations and events about their turns (others' votes on
  them included: the server keeps every wire event it stored);
- votes the user cast, with their comments, and every vote on the user's turns (a vote on a deleted
  answer judges nothing that is left, and its comment may quote that answer), as deleting a
  conversation does;
- comparisons and batch or experiment runs (with their items) the user started;
- dataset items copied from the user's turns (a dataset's ``size`` stays the next free position, so
  items added later never collide; datasets themselves, like prompt versions, are the team's
  configuration and keep their author);
- review sessions' items handed to the user with their ratings, their membership of sessions, and
  every item showing one of the user's answers (``store.review_removal``; the sessions stay);
- the user's turns and every turn of the user's conversations;
- the user's conversations.
Running it again finds nothing more: it is idempotent.
"""

from __future__ import annotations

from sqlalchemy import Engine, and_, or_, select

from bilan_core.limits import check_label
from bilan_core.store.dataset_models import DATASET_ITEMS, DATASETS
from bilan_core.store.models import (
    BATCH_ITEMS,
    BATCH_RUNS,
    COMPARISONS,
    CONVERSATIONS,
    EVENTS,
    LOCAL_PROJECT,
    TURNS,
    VOTES,
)
from bilan_core.store.removal import RemovalReport, Step, run_steps
from bilan_core.store.review_removal import forget_steps
from bilan_core.store.reviews import recount_sessions


def forget_user(engine: Engine, *, user_id: str, project_id: int = LOCAL_PROJECT) -> RemovalReport:
    """Delete everything of ``user_id`` in the project; what went."""
    report = run_steps(engine, _steps(check_label("user_id", user_id), project_id), dry_run=False)
    recount_sessions(engine, project_id=project_id)
    return report


def _steps(user_id: str, project_id: int) -> list[Step]:
    conversation_ids = select(CONVERSATIONS.c.conversation_id).where(
        CONVERSATIONS.c.project_id == project_id, CONVERSATIONS.c.user_id == user_id
    )
    turn_of_user = and_(
        TURNS.c.project_id == project_id,
        or_(TURNS.c.user_id == user_id, TURNS.c.conversation_id.in_(conversation_ids)),
    )
    prompt_ids = select(TURNS.c.prompt_id).where(turn_of_user)
    turn_reference = EVENTS.c.properties["turnId"].as_string(), EVENTS.c.properties["turn_id"].as_string()
    events = or_(
        EVENTS.c.user_id == user_id,
        EVENTS.c.conversation_id.in_(conversation_ids),
        *(reference.in_(prompt_ids) for reference in turn_reference),
    )
    votes = or_(VOTES.c.user_id == user_id, VOTES.c.prompt_id.in_(prompt_ids))
    run_of_user = and_(BATCH_RUNS.c.project_id == project_id, BATCH_RUNS.c.user_id == user_id)
    datasets = select(DATASETS.c.id).where(DATASETS.c.project_id == project_id)
    copied = and_(DATASET_ITEMS.c.dataset_id.in_(datasets), DATASET_ITEMS.c.source_prompt_id.in_(prompt_ids))
    return [
        Step("events", EVENTS, and_(EVENTS.c.project_id == project_id, events)),
        Step("dataset_items", DATASET_ITEMS, copied),
        Step("votes", VOTES, and_(VOTES.c.project_id == project_id, votes)),
        Step(
            "comparisons",
            COMPARISONS,
            and_(COMPARISONS.c.project_id == project_id, COMPARISONS.c.user_id == user_id),
        ),
        Step(
            "batch_items", BATCH_ITEMS, BATCH_ITEMS.c.run_id.in_(select(BATCH_RUNS.c.id).where(run_of_user))
        ),
        Step("batch_runs", BATCH_RUNS, run_of_user),
        *forget_steps(user_id, project_id, prompt_ids),
        Step("turns", TURNS, turn_of_user),
        Step(
            "conversations",
            CONVERSATIONS,
            and_(CONVERSATIONS.c.project_id == project_id, CONVERSATIONS.c.user_id == user_id),
        ),
    ]
