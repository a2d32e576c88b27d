"""Realistic synthetic history (turns, votes, comments, conversations) for trying the analytics.

``demo_rows`` draws the rows with numpy, chunk by chunk in time order; they are written in one
transaction with ``COPY`` (PostgreSQL) or one plain ``executemany`` per chunk (SQLite), then the
roll-ups are rebuilt and the planner's statistics refreshed, with a progress bar on the command line.
The same seed, database state and ``now_ms`` give the same rows.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.progress import Progress
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import OperationalError

from bilan_core.clock import now_ms
from bilan_core.settings import load_settings
from bilan_core.store.bulk_write import bulk_write
from bilan_core.store.conversations import CONVERSATION_COLUMNS
from bilan_core.store.demo_rows import TURN_COLUMNS, DemoPlan
from bilan_core.store.engine import get_engine
from bilan_core.store.models import LOCAL_PROJECT, Conversation, Turn
from bilan_core.store.rollup_rebuild import add_stored_rows, write_rollups
from bilan_core.store.rollup_sums import RollupSums, TurnColumns, VoteColumns
from bilan_core.store.votes import VOTE_COLUMNS

DEFAULT_DAYS = 90
CHUNK_TURNS = 20_000
BULK_CACHE_KIB = -500_000  # SQLite page cache during a load: 500 MB (negative: KiB)
MAX_TURNS = 50_000_000
PHASES = ("drawing rows", "writing rows", "summing roll-ups", "writing roll-ups", "statistics and commit")


@dataclass(frozen=True)
class DemoSummary:
    """What one demo-data run inserted and how long it took."""

    turns: int
    votes: int
    conversations: int
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)  # seconds by phase (PHASES)


def validate_turn_count(turns: object) -> int:
    """``turns`` as a positive int, or ValueError saying what is wrong."""
    if isinstance(turns, str):
        try:
            turns = int(turns.strip().replace("_", ""))
        except ValueError:
            raise ValueError(f"--turns must be a whole number, got {turns!r}") from None
    if type(turns) is not int:
        raise ValueError(f"--turns must be a whole number, got {turns!r}")
    if turns <= 0:
        raise ValueError(f"--turns must be at least 1, got {turns}")
    if turns > MAX_TURNS:
        raise ValueError(f"--turns must be at most {MAX_TURNS:,}, got {turns:,}")
    return turns


def seed_demo_data(
    engine: Engine,
    *,
    turns: int,
    seed: int = 0,
    project_id: int = LOCAL_PROJECT,
    days: int = DEFAULT_DAYS,
    at_ms: int | None = None,
    progress: bool = False,
) -> DemoSummary:
    """Insert ``turns`` synthetic turns (about one vote per two) spread over the last ``days`` days."""
    turns = validate_turn_count(turns)
    started = time.perf_counter()
    end_ms = now_ms() if at_ms is None else at_ms
    counts = [0, 0, 0]
    phases = dict.fromkeys(PHASES, 0.0)
    with engine.connect() as connection, _bulk_load_mode(connection), _progress(progress) as bar:
        sums = RollupSums(project_id)
        add_stored_rows(connection, sums)  # the project's rows so far (none in a fresh database)
        plan = DemoPlan(
            seed=seed,
            project_id=project_id,
            first_turn=_row_count(connection, Turn, project_id),
            first_conversation=_row_count(connection, Conversation, project_id),
            end_ms=end_ms,
            days=days,
        )
        task = bar.add_task("turns, votes, conversations", total=turns)
        for done, size in plan.chunks(turns, CHUNK_TURNS):
            with _timed(phases, "drawing rows"):
                chunk = plan.draw(done, size, turns)
            with _timed(phases, "writing rows"):
                bulk_write(connection, "conversations", CONVERSATION_COLUMNS, chunk.conversations)
                bulk_write(connection, "turns", TURN_COLUMNS, chunk.turns)
                bulk_write(connection, "votes", VOTE_COLUMNS, chunk.votes)
            with _timed(phases, "summing roll-ups"):
                sums.add_turns(TurnColumns.from_rows(TURN_COLUMNS, chunk.turns))
                sums.add_votes(VoteColumns.from_rows(VOTE_COLUMNS, chunk.votes))
            counts = [
                counts[0] + len(chunk.turns),
                counts[1] + len(chunk.votes),
                counts[2] + len(chunk.conversations),
            ]
            bar.advance(task, size)
        finishing = bar.add_task("roll-ups and planner statistics", total=2)
        with _timed(phases, "writing roll-ups"):
            write_rollups(connection, sums)  # the rows were written behind the store's write functions
        bar.advance(finishing)
        with _timed(phases, "statistics and commit"):
            refresh_planner_statistics(connection)
            connection.commit()
        bar.advance(finishing)
    return DemoSummary(
        turns=counts[0],
        votes=counts[1],
        conversations=counts[2],
        seconds=time.perf_counter() - started,
        phases=phases,
    )


@contextmanager
def _timed(phases: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        phases[name] += time.perf_counter() - started


@contextmanager
def _bulk_load_mode(connection: Connection) -> Iterator[None]:
    """On SQLite, a bigger page cache while the indexes grow and, when no other connection has the file
    open, a rollback journal instead of the WAL: the new pages are then written once, not to the WAL and
    again into the file (half the disk writes). Both are put back afterwards (the connection is pooled)."""
    if connection.dialect.name != "sqlite":
        yield
        return
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
    connection.exec_driver_sql(f"PRAGMA cache_size={BULK_CACHE_KIB}")
    journal = _switch_journal(connection, "DELETE")
    if journal == "delete":
        connection.exec_driver_sql("PRAGMA synchronous=FULL")  # what a rollback journal needs to be safe
    connection.commit()  # the load is one transaction of its own
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.rollback()
        if journal == "delete":
            _switch_journal(connection, "WAL")
            connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
        connection.exec_driver_sql(f"PRAGMA cache_size={int(previous)}")


def _switch_journal(connection: Connection, mode: str) -> str:
    """Set the journal mode if no other connection has the file open (without waiting); the mode now."""
    timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
    connection.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        return str(connection.exec_driver_sql(f"PRAGMA journal_mode={mode}").scalar_one())
    except OperationalError:  # "database is locked": another connection has it open
        return str(connection.exec_driver_sql("PRAGMA journal_mode").scalar_one())
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(timeout)}")


def _row_count(connection: Connection, table: Any, project_id: int) -> int:
    count = connection.execute(select(func.count()).select_from(table).where(table.project_id == project_id))
    return int(count.scalar_one())


@contextmanager
def _progress(shown: bool) -> Iterator[Progress]:
    with Progress(disable=not shown, transient=False) as bar:
        yield bar


def refresh_planner_statistics(connection: Connection) -> None:
    """Bring the query planner's statistics up to date after a bulk load (ANALYZE; sampled on SQLite)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "ANALYZE turns, votes, conversations, turn_rollups, vote_rollups,"
            " turn_rollups_hourly, vote_rollups_hourly"
        )
        return
    connection.exec_driver_sql("PRAGMA analysis_limit=2000")  # sampled: seconds, not minutes, at 10M rows
    connection.exec_driver_sql("ANALYZE")


def add_demo_data_command(commands: argparse._SubParsersAction) -> None:
    """``demo-data``: fill the database with synthetic history for the analytics."""
    parser = commands.add_parser("demo-data", help="insert realistic synthetic turns, votes and comments")
    parser.add_argument("--turns", required=True, help="how many turns to insert (e.g. 10000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same data)")
    parser.set_defaults(run=_run_demo_data)


def _run_demo_data(args: argparse.Namespace) -> int:
    turns = validate_turn_count(args.turns)
    engine = get_engine(load_settings().database_url)
    summary = seed_demo_data(engine, turns=turns, seed=args.seed, progress=True)
    print(
        f"inserted {summary.turns:,} turns, {summary.votes:,} votes and "
        f"{summary.conversations:,} conversations in {summary.seconds:.1f} s"
        f" ({', '.join(f'{name} {seconds:.1f} s' for name, seconds in summary.phases.items())})"
    )
    return 0
