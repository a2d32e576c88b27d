"""Recomputing the roll-ups from the raw turns and votes: after a bulk load, a prune, or by command.

``rebuild_rollups`` replaces a project's roll-up rows (all days, or the days named) with sums computed
in SQL from the rows themselves, histogram buckets included (the same arithmetic as the write path:
``histograms.bucket_of`` and ``rollups.day_weight``). ``rebuild-rollups`` runs it from the command line.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
)
from sqlalchemy import Integer as SqlInteger
from sqlalchemy.sql import ColumnElement

from bilan_core.clock import MS_PER_DAY
from bilan_core.store import histograms
from bilan_core.store.data_versions import mark_changed
from bilan_core.store.models import LOCAL_PROJECT, TURNS, VOTES
from bilan_core.store.rollup_tables import (
    LEVELS,
    NO_PROMPT_NUMBER,
    NONE_KEY,
    TURN_COUNTERS,
    VOTE_COUNTERS,
    RollupLevel,
)
from bilan_core.store.rollups import HALF_LIFE_MS
from bilan_core.store.upsert import least


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
    turn_rows = vote_rows = 0
    for level in LEVELS:
        for table in (level.turns, level.votes):
            connection.execute(
                delete(table).where(*_scope(table, _day_of_bucket(table, level), project_id, days))
            )
        turn_rows += _rebuild_turns(connection, level, project_id, days)
        vote_rows += _rebuild_votes(connection, level, project_id, days)
    mark_changed(connection, project_id)
    return RebuildSummary(turn_rows, vote_rows, time.perf_counter() - started)


def _scope(
    table: Any, day: ColumnElement[Any], project_id: int, days: Collection[int] | None
) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = [table.c.project_id == project_id]
    if days is not None:
        found.append(day.in_(sorted(days)))
    return found


def _day_of_bucket(table: Any, level: RollupLevel) -> ColumnElement[Any]:
    return literal_column(f"({table.name}.{level.bucket} / {MS_PER_DAY // level.bucket_ms})")


def _bucket_of(table: Any, bucket_ms: int) -> ColumnElement[Any]:
    # Integer division on both engines, spelled as the daily indexes spell it (models.DAY_BUCKET_SQL).
    return literal_column(f"({table.name}.created_ms / {bucket_ms})")


def _labels(table: Any, names: tuple[str, ...]) -> list[ColumnElement[Any]]:
    # The roll-up key's labels from a row: missing ones as the key spells them ("" and number 0).
    none = {"prompt_number": NO_PROMPT_NUMBER}
    return [func.coalesce(table.c[name], none.get(name, NONE_KEY)).label(name) for name in names]


def _rebuild_turns(
    connection: Connection, level: RollupLevel, project_id: int, days: Collection[int] | None
) -> int:
    keys = [
        TURNS.c.project_id,
        _bucket_of(TURNS, level.bucket_ms).label(level.bucket),
        *_labels(TURNS, level.turn_labels),
    ]
    where = _scope(TURNS, _bucket_of(TURNS, MS_PER_DAY), project_id, days)
    sums = (
        select(
            *keys,
            func.count(),
            func.sum(case((TURNS.c.status == "error", 1), else_=0)),
            func.sum(case((TURNS.c.status == "cancelled", 1), else_=0)),
            func.coalesce(func.sum(TURNS.c.prompt_tokens), 0),
            func.coalesce(func.sum(TURNS.c.completion_tokens), 0),
        )
        .where(*where)
        .group_by(*keys)
    )
    latency = _histograms(connection, "latency_ms", keys, where)
    ttft = _histograms(connection, "ttft_ms", keys, where)
    width = len(level.turn_key)
    rows = []
    for row in connection.execute(sums):
        key = tuple(row[:width])
        found = dict(zip(level.turn_key, key, strict=True)) | dict(
            zip(TURN_COUNTERS, row[width:], strict=True)
        )
        found["latency_hist"] = histograms.encode(latency.get(key, {})) or None
        found["ttft_hist"] = histograms.encode(ttft.get(key, {})) or None
        rows.append(found)
    if rows:
        connection.execute(insert(level.turns), rows)
    return len(rows)


def _bucket(dialect: str, value: Any) -> ColumnElement[int]:
    # The SQL spelling of histograms.bucket_of: libm's log on both sides, so the buckets agree.
    raw = cast(func.floor(func.ln(value / histograms.LOW_MS) / literal(histograms.LOG_RATIO)), SqlInteger) + 1
    return case((value >= histograms.LOW_MS, least(dialect, raw, histograms.MAX_BUCKET)), else_=0)


def _histograms(
    connection: Connection, measure: str, keys: list[ColumnElement[Any]], where: list[ColumnElement[bool]]
) -> dict[tuple[Any, ...], dict[int, int]]:
    value = TURNS.c[measure]
    bucket = _bucket(connection.dialect.name, value).label("bucket")
    rows = connection.execute(
        select(*keys, bucket, func.count()).where(*where, value.is_not(None)).group_by(*keys, bucket)
    )
    counts: dict[tuple[Any, ...], dict[int, int]] = defaultdict(dict)
    for row in rows:
        counts[tuple(row[:-2])][int(row[-2])] = int(row[-1])
    return counts


def _rebuild_votes(
    connection: Connection, level: RollupLevel, project_id: int, days: Collection[int] | None
) -> int:
    keys = [
        VOTES.c.project_id,
        _bucket_of(VOTES, level.bucket_ms).label(level.bucket),
        *_labels(VOTES, level.vote_labels),
    ]
    factor = func.power(2.0, (VOTES.c.created_ms % MS_PER_DAY) / HALF_LIFE_MS)
    up = VOTES.c.value > 0
    sums = (
        select(
            *keys,
            func.sum(case((up, 1), else_=0)),
            func.sum(case((up, 0), else_=1)),
            func.sum(case((VOTES.c.comment.is_not(None), 1), else_=0)),
            func.sum(case((up, factor), else_=0.0)),
            func.sum(case((up, 0.0), else_=factor)),
        )
        .where(*_scope(VOTES, _bucket_of(VOTES, MS_PER_DAY), project_id, days))
        .group_by(*keys)
    )
    names = [*level.vote_key, *VOTE_COUNTERS]
    return max(0, connection.execute(insert(level.votes).from_select(names, sums)).rowcount)


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
