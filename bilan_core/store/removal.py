"""Deleting rows in short batches, the report of what went, and clearing deleted text off SQLite's disk.

Retention (``store.retention``) and forgetting a user (``store.forget``) both delete through ``purge``:
one ``DELETE … WHERE id IN (SELECT id … ORDER BY id LIMIT n)`` per transaction, walking the table by
id, so no lock is held for longer than one small batch and each table is read once whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Column, Engine, Table, delete, func, select
from sqlalchemy.sql import ColumnElement

from bilan_core.store import rollups
from bilan_core.store.data_versions import mark_changed

PURGE_BATCH_ROWS = 500
_PROJECT = "purged_project_id"  # the RETURNING label of a deleted row's project


class RemovalReport(BaseModel):
    """How many rows of each kind were deleted (or, in a dry run, would be)."""

    turns: int = 0
    votes: int = 0
    comments: int = 0  # of those votes, the ones that carried a comment
    events: int = 0
    conversations: int = 0
    comparisons: int = 0
    batch_runs: int = 0
    batch_items: int = 0
    dataset_items: int = 0  # copies of the user's turns in datasets
    review_sessions: int = 0
    review_items: int = 0
    review_raters: int = 0
    review_assignments: int = 0  # items handed to raters, with the ratings given
    outbox_events: int = 0  # server mode: events of the user still queued on this machine

    @property
    def total(self) -> int:
        """Every row counted, comments not twice (they are part of their votes)."""
        return sum(value for name, value in self.model_dump().items() if name != "comments")

    def lines(self, *, leave_out: frozenset[str] = frozenset()) -> list[str]:
        """One ``kind: count`` line per kind, for the command line (without the kinds in ``leave_out``)."""
        counts = self.model_dump(exclude=set(leave_out))
        return [f"{name.replace('_', ' ')}: {value:,}" for name, value in counts.items()]


@dataclass(frozen=True)
class Step:
    """One table's rows to delete: the report field that counts them, and which ones."""

    field: str
    table: Table
    condition: ColumnElement[bool]


def run_steps(engine: Engine, steps: list[Step], *, dry_run: bool) -> RemovalReport:
    """Purge each step's rows in order (or count them) and report how many went; votes' comments too."""
    counts: dict[str, int] = {}
    for step in steps:
        comment = step.table.c.comment if step.field == "votes" else None
        rows, commented = purge(engine, step.table, step.condition, dry_run=dry_run, non_null=comment)
        counts[step.field] = counts.get(step.field, 0) + rows
        if comment is not None:
            counts["comments"] = counts.get("comments", 0) + commented
    if not dry_run:
        clear_deleted_text(engine)
    return RemovalReport(**counts)


def purge(
    engine: Engine,
    table: Table,
    condition: ColumnElement[bool],
    *,
    dry_run: bool,
    non_null: Column[Any] | None = None,
    batch_rows: int = PURGE_BATCH_ROWS,
) -> tuple[int, int]:
    """Delete the rows ``condition`` selects, ``batch_rows`` per transaction (only count them in a dry run).

    Returns how many rows matched and in how many of those the column ``non_null`` holds a value.
    """
    key = table.primary_key.columns.values()[0]
    # The column itself is read back, not a test on it: SQLite 3.40 answers a RETURNING clause's
    # ``comment IS NOT NULL`` wrongly when a partial index has that condition.
    counted = non_null if non_null is not None else key
    if dry_run:
        with engine.connect() as connection:
            counting = select(func.count(), func.count(counted)).select_from(table).where(condition)
            rows, filled = connection.execute(counting).one()
        return int(rows), int(filled)
    rows = filled = 0
    last: Any = None
    while True:
        page = select(key).where(condition).order_by(key).limit(batch_rows)
        if last is not None:
            page = page.where(key > last)
        # One statement that writes first, so SQLite takes its write lock at once (no read-to-write upgrade).
        returned = (key, counted, *_project_column(table), *rollups.deleted_columns(table))
        statement = delete(table).where(key.in_(page.scalar_subquery())).returning(*returned)
        with engine.begin() as connection:
            deleted = connection.execute(statement).all()
            rollups.subtract_deleted(connection, table, deleted)  # the analytics roll-ups follow
            for project_id in {one._mapping[_PROJECT] for one in deleted if _PROJECT in one._mapping}:
                mark_changed(connection, project_id)
        if not deleted:
            return rows, filled
        rows += len(deleted)
        filled += sum(1 for one in deleted if one[1] is not None)
        last = max(one[0] for one in deleted)


def _project_column(table: Table) -> list[Any]:
    return [table.c.project_id.label(_PROJECT)] if "project_id" in table.c else []


def clear_deleted_text(engine: Engine) -> None:
    """On SQLite, move the write-ahead log into the database file and empty it.

    Deleted rows are zeroed in the pages they leave (``secure_delete``, set on every connection), but
    older copies of those pages stay in the ``-wal`` file until it is truncated. PostgreSQL keeps dead
    rows until autovacuum reclaims their space; no query can see them.
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
