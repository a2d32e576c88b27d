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
    NONE_KEY,
    TURN_COUNTERS,
    TURN_KEY,
    TURN_ROLLUPS,
    VOTE_KEY,
    VOTE_ROLLUPS,
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
    for table in (TURN_ROLLUPS, VOTE_ROLLUPS):
        connection.execute(delete(table).where(*_scope(table.c.project_id, table.c.day, project_id, days)))
    turn_rows = _rebuild_turns(connection, project_id, days)
    vote_rows = _rebuild_votes(connection, project_id, days)
    mark_changed(connection, project_id)
    return RebuildSummary(turn_rows, vote_rows, time.perf_counter() - started)


def _scope(
    project: Any, day: ColumnElement[Any], project_id: int, days: Collection[int] | None
) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = [project == project_id]
    if days is not None:
        found.append(day.in_(sorted(days)))
    return found


def _day(table: Any) -> ColumnElement[Any]:
    # Integer division on both engines, spelled as the daily indexes spell it (models.DAY_BUCKET_SQL).
    return literal_column(f"({table.name}.created_ms / {MS_PER_DAY})").label("day")


def _turn_keys() -> list[ColumnElement[Any]]:
    return [
        TURNS.c.project_id,
        _day(TURNS),
        TURNS.c.model,
        TURNS.c.user_id,
        func.coalesce(TURNS.c.team_session, NONE_KEY).label("team_session"),
        func.coalesce(TURNS.c.prompt_version, NONE_KEY).label("prompt_version"),
    ]


def _rebuild_turns(connection: Connection, project_id: int, days: Collection[int] | None) -> int:
    keys = _turn_keys()
    where = _scope(TURNS.c.project_id, _day(TURNS), project_id, days)
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
    rows = []
    for row in connection.execute(sums):
        key = tuple(row[: len(TURN_KEY)])
        found = dict(zip(TURN_KEY, key, strict=True)) | dict(
            zip(TURN_COUNTERS, row[len(TURN_KEY) :], strict=True)
        )
        found["latency_hist"] = histograms.encode(latency.get(key, {})) or None
        found["ttft_hist"] = histograms.encode(ttft.get(key, {})) or None
        rows.append(found)
    if rows:
        connection.execute(insert(TURN_ROLLUPS), rows)
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
        counts[tuple(row[: len(TURN_KEY)])][int(row[-2])] = int(row[-1])
    return counts


def _rebuild_votes(connection: Connection, project_id: int, days: Collection[int] | None) -> int:
    keys = [
        VOTES.c.project_id,
        _day(VOTES),
        func.coalesce(VOTES.c.model, NONE_KEY).label("model"),
        func.coalesce(VOTES.c.prompt_version, NONE_KEY).label("prompt_version"),
        VOTES.c.user_id,
        func.coalesce(VOTES.c.team_session, NONE_KEY).label("team_session"),
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
        .where(*_scope(VOTES.c.project_id, _day(VOTES), project_id, days))
        .group_by(*keys)
    )
    names = [*VOTE_KEY, "up", "down", "comments", "up_weight", "down_weight"]
    return max(0, connection.execute(insert(VOTE_ROLLUPS).from_select(names, sums)).rowcount)


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
