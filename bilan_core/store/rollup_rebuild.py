"""Recomputing the roll-ups from the raw turns and votes: after a bulk load, a prune, or by command.

``rebuild_rollups`` replaces a project's roll-up rows (all days, or the days named) with sums computed
from the rows themselves: it streams their key and measure columns in batches and sums them with numpy
(``rollup_sums``: the same arithmetic as the write path), then bulk-writes every level's rows (``COPY``
on PostgreSQL). ``rebuild-rollups`` runs it from the command line.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, Select, case, delete, func, literal_column, select
from sqlalchemy.sql import ColumnElement

from bilan_core.clock import MS_PER_DAY
from bilan_core.store.bulk_write import bulk_write
from bilan_core.store.data_versions import mark_changed
from bilan_core.store.models import LOCAL_PROJECT, TURNS, VOTES
from bilan_core.store.rollup_sums import RollupSums, TurnColumns, VoteColumns
from bilan_core.store.rollup_tables import (
    LEVELS,
    NO_PROMPT_NUMBER,
    NONE_KEY,
    TURN_COUNTERS,
    TURN_KEY_LABELS,
    VOTE_COUNTERS,
    VOTE_KEY_LABELS,
    RollupLevel,
)

_BATCH_ROWS = 200_000
_HISTOGRAMS = ("latency_hist", "ttft_hist")


@dataclass(frozen=True)
class RebuildSummary:
    """How many roll-up rows a rebuild wrote and how long it took."""

    turn_rows: int
    vote_rows: int
    seconds: float


def rebuild_rollups(
    connection: Connection, project_id: int = LOCAL_PROJECT, days: Collection[int] | None = None
) -> RebuildSummary:
    """Recompute a project's roll-ups from its turns and votes: all days, or only ``days`` (UTC days)."""
    started = time.perf_counter()
    if days is not None and not days:
        return RebuildSummary(0, 0, 0.0)
    sums = RollupSums(project_id)
    add_stored_rows(connection, sums, days)
    turn_rows, vote_rows = write_rollups(connection, sums, days)
    return RebuildSummary(turn_rows, vote_rows, time.perf_counter() - started)


def add_stored_rows(connection: Connection, sums: RollupSums, days: Collection[int] | None = None) -> None:
    """Count the stored turns and votes of ``sums``'s project (all days, or only ``days``) into ``sums``."""
    for batch in _batches(connection, _turn_statement(sums.project_id, days)):
        sums.add_turns(_turn_columns(batch))
    for batch in _batches(connection, _vote_statement(sums.project_id, days)):
        sums.add_votes(_vote_columns(batch))


def write_rollups(
    connection: Connection, sums: RollupSums, days: Collection[int] | None = None
) -> tuple[int, int]:
    """Replace the roll-ups of ``sums``'s project (all days, or ``days``) with its sums: row counts."""
    project_id = sums.project_id
    turn_rows = vote_rows = 0
    for level in LEVELS:
        for table in (level.turns, level.votes):
            connection.execute(
                delete(table).where(*_scope(table, _day_of_bucket(table, level), project_id, days))
            )
        rows = sums.turn_rows(level)
        bulk_write(connection, level.turns.name, (*level.turn_key, *TURN_COUNTERS, *_HISTOGRAMS), rows)
        turn_rows += len(rows)
        rows = sums.vote_rows(level)
        bulk_write(connection, level.votes.name, (*level.vote_key, *VOTE_COUNTERS), rows)
        vote_rows += len(rows)
    mark_changed(connection, project_id)
    return turn_rows, vote_rows


def _scope(
    table: Any, day: ColumnElement[Any], project_id: int, days: Collection[int] | None
) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = [table.c.project_id == project_id]
    if days is not None:
        found.append(day.in_(sorted(days)))
    return found


def _day_of_bucket(table: Any, level: RollupLevel) -> ColumnElement[Any]:
    return literal_column(f"({table.name}.{level.bucket} / {MS_PER_DAY // level.bucket_ms})")


def _day_of_row(table: Any) -> ColumnElement[Any]:
    # Integer division on both engines, spelled as the daily indexes spell it (models.DAY_BUCKET_SQL).
    return literal_column(f"({table.name}.created_ms / {MS_PER_DAY})")


def _labels(table: Any, names: tuple[str, ...]) -> list[ColumnElement[Any]]:
    # The roll-up key's labels from a row: missing ones as the key spells them ("" and number 0).
    none = {"prompt_number": NO_PROMPT_NUMBER}
    return [func.coalesce(table.c[name], none.get(name, NONE_KEY)).label(name) for name in names]


def _turn_statement(project_id: int, days: Collection[int] | None) -> Select[Any]:
    status = case((TURNS.c.status == "error", 1), (TURNS.c.status == "cancelled", 2), else_=0)
    return select(
        TURNS.c.created_ms,
        *_labels(TURNS, TURN_KEY_LABELS),
        status,
        func.coalesce(TURNS.c.prompt_tokens, 0),
        func.coalesce(TURNS.c.completion_tokens, 0),
        TURNS.c.latency_ms,
        TURNS.c.ttft_ms,
    ).where(*_scope(TURNS, _day_of_row(TURNS), project_id, days))


def _vote_statement(project_id: int, days: Collection[int] | None) -> Select[Any]:
    return select(
        VOTES.c.created_ms,
        *_labels(VOTES, VOTE_KEY_LABELS),
        case((VOTES.c.value > 0, 1), else_=0),
        case((VOTES.c.comment.is_not(None), 1), else_=0),
    ).where(*_scope(VOTES, _day_of_row(VOTES), project_id, days))


def _batches(connection: Connection, statement: Select[Any]) -> Iterator[list[tuple[Any, ...]]]:
    """The statement's rows, a batch at a time, as columns (streamed: a server-side cursor on PostgreSQL)."""
    result = connection.execute(statement.execution_options(yield_per=_BATCH_ROWS))
    for rows in result.partitions():
        yield list(zip(*rows, strict=True))


def _turn_columns(columns: list[tuple[Any, ...]]) -> TurnColumns:
    created, *labels = columns[: 1 + len(TURN_KEY_LABELS)]
    status, prompt_tokens, completion_tokens, latency, ttft = columns[1 + len(TURN_KEY_LABELS) :]
    return TurnColumns(
        created_ms=np.array(created, dtype=np.int64),
        labels=[np.array(column, dtype=object) for column in labels],
        status=np.array(status, dtype=np.int8),
        prompt_tokens=np.array(prompt_tokens, dtype=np.float64),
        completion_tokens=np.array(completion_tokens, dtype=np.float64),
        latency_ms=np.array(latency, dtype=np.float64),
        ttft_ms=np.array(ttft, dtype=np.float64),
    )


def _vote_columns(columns: list[tuple[Any, ...]]) -> VoteColumns:
    created, *labels = columns[: 1 + len(VOTE_KEY_LABELS)]
    up, commented = columns[1 + len(VOTE_KEY_LABELS) :]
    return VoteColumns(
        created_ms=np.array(created, dtype=np.int64),
        labels=[np.array(column, dtype=object) for column in labels],
        up=np.array(up, dtype=bool),
        commented=np.array(commented, dtype=bool),
    )


def add_rebuild_rollups_command(commands: argparse._SubParsersAction) -> None:
    """``rebuild-rollups``: recompute the analytics roll-ups from the stored turns and votes."""
    parser = commands.add_parser(
        "rebuild-rollups", help="recompute the analytics roll-ups from the stored turns and votes"
    )
    parser.add_argument("--project", type=int, default=LOCAL_PROJECT, help="project id (0: local mode)")
    parser.set_defaults(run=_run_rebuild)


def _run_rebuild(args: argparse.Namespace) -> int:
    from bilan_core.settings import load_settings
    from bilan_core.store.engine import get_engine

    engine: Engine = get_engine(load_settings().database_url)
    with engine.begin() as connection:
        summary = rebuild_rollups(connection, args.project)
    print(
        f"rebuilt {summary.turn_rows:,} turn and {summary.vote_rows:,} vote roll-up rows "
        f"for project {args.project} in {summary.seconds:.1f} s"
    )
    return 0
