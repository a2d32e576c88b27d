"""Retention: delete what is older than a number of days (the `prune` command, the server's schedule).

In each project in scope (one, or every project and local mode's) these go, in this order:
- votes, with their comments, last changed before the cutoff, and every vote on a turn that goes (a
  vote on a deleted answer judges nothing that is left, and its comment may quote that answer);
- turns created before the cutoff;
- conversations last updated before the cutoff that keep no turn from after it (their titles are
  first prompts);
- events before the cutoff;
- comparisons created before the cutoff (their prompt and comment are that time's raw text; the
  leaderboard is then computed from the comparisons kept);
- batch runs last changed before the cutoff, with all of their items;
- review sessions' handouts and ratings last changed before the cutoff, items showing a turn that
  goes, members who joined before it, and sessions made before it that keep no item
  (``store.review_removal``).
Every figure the analytics show is computed from these rows, so after a prune they are the figures
of the data kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, Table, and_, exists, not_, or_, select, text, true
from sqlalchemy.sql import ColumnElement

from bilan_core.clock import MS_PER_DAY, now_ms
from bilan_core.limits import check_retention_days
from bilan_core.store.models import BATCH_ITEMS, BATCH_RUNS, COMPARISONS, CONVERSATIONS, EVENTS, TURNS, VOTES
from bilan_core.store.removal import RemovalReport, Step, run_steps
from bilan_core.store.review_removal import prune_steps
from bilan_core.store.reviews import recount_sessions

PRUNE_LOCK_KEY = 727_275  # PostgreSQL advisory lock: one prune per database at a time
# Kinds a prune never deletes: queued events are on clients; datasets are curated inputs, not raw data.
PRUNE_NEVER = frozenset({"outbox_events", "dataset_items"})


def cutoff_ms(days: int, *, at_ms: int | None = None) -> int:
    """The time before which data older than ``days`` days lies (from now, or from ``at_ms``)."""
    return (now_ms() if at_ms is None else at_ms) - check_retention_days("days", days) * MS_PER_DAY


def prune(
    engine: Engine,
    *,
    days: int,
    project_id: int | None = None,
    dry_run: bool = False,
    at_ms: int | None = None,
) -> RemovalReport:
    """Delete (or, in a dry run, count) what is older than ``days`` days, in one project or all of them."""
    report = run_steps(engine, _steps(cutoff_ms(days, at_ms=at_ms), project_id), dry_run=dry_run)
    if not dry_run:
        recount_sessions(engine, project_id=project_id)
    return report


def prune_exclusively(
    engine: Engine, *, days: int, project_id: int | None = None, at_ms: int | None = None
) -> RemovalReport | None:
    """``prune`` unless another process is pruning this PostgreSQL database right now (then None)."""
    with _prune_lock(engine) as free:
        if not free:
            return None
        return prune(engine, days=days, project_id=project_id, at_ms=at_ms)


@contextmanager
def _prune_lock(engine: Engine) -> Iterator[bool]:
    # On SQLite each batch takes the database's write lock and every delete is idempotent, so two
    # prunes at once only repeat the search; PostgreSQL servers run several processes, so one prunes.
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as connection:
        free = bool(
            connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": PRUNE_LOCK_KEY}).scalar()
        )
        connection.commit()  # the lock belongs to the session: no transaction stays open while pruning
        try:
            yield free
        finally:
            if free:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PRUNE_LOCK_KEY})
                connection.commit()


def _scope(table: Table, project_id: int | None) -> ColumnElement[bool]:
    return table.c.project_id == project_id if project_id is not None else true()


def _steps(cutoff: int, project_id: int | None) -> list[Step]:
    old_turn = exists().where(
        TURNS.c.project_id == VOTES.c.project_id,
        TURNS.c.prompt_id == VOTES.c.prompt_id,
        TURNS.c.created_ms < cutoff,
    )
    recent_turn = exists().where(
        TURNS.c.project_id == CONVERSATIONS.c.project_id,
        TURNS.c.conversation_id == CONVERSATIONS.c.conversation_id,
        TURNS.c.created_ms >= cutoff,
    )
    old_runs = select(BATCH_RUNS.c.id).where(_scope(BATCH_RUNS, project_id), BATCH_RUNS.c.updated_ms < cutoff)
    return [
        *prune_steps(cutoff, project_id),
        Step("votes", VOTES, and_(_scope(VOTES, project_id), or_(VOTES.c.updated_ms < cutoff, old_turn))),
        Step("turns", TURNS, and_(_scope(TURNS, project_id), TURNS.c.created_ms < cutoff)),
        Step(
            "conversations",
            CONVERSATIONS,
            and_(_scope(CONVERSATIONS, project_id), CONVERSATIONS.c.updated_ms < cutoff, not_(recent_turn)),
        ),
        Step("events", EVENTS, and_(_scope(EVENTS, project_id), EVENTS.c.timestamp_ms < cutoff)),
        Step(
            "comparisons",
            COMPARISONS,
            and_(_scope(COMPARISONS, project_id), COMPARISONS.c.created_ms < cutoff),
        ),
        Step("batch_items", BATCH_ITEMS, BATCH_ITEMS.c.run_id.in_(old_runs)),
        Step(
            "batch_runs", BATCH_RUNS, and_(_scope(BATCH_RUNS, project_id), BATCH_RUNS.c.updated_ms < cutoff)
        ),
    ]
