"""The roll-ups follow every write (turns, votes cast, changed and cleared, conversations deleted) on both
write paths, and ``rebuild_rollups`` / ``rebuild-rollups`` recompute the same rows from the raw ones."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from sqlalchemy import Engine, delete, func, select

from bilan_core.store.demo_data import seed_demo_data
from bilan_core.store.engine import get_engine
from bilan_core.store.forget import forget_user
from bilan_core.store.models import TURNS
from bilan_core.store.retention import prune
from bilan_core.store.rollup_rebuild import rebuild_rollups
from bilan_core.store.rollup_tables import LEVELS, TURN_ROLLUPS, VOTE_ROLLUPS
from tests.rollup_support import (
    AT_MS,
    LOCAL_PROJECT,
    SERVER_PROJECT,
    local_history,
    rollup_rows,
    server_history,
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    return get_engine(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url"))


def assert_same(maintained: dict, rebuilt: dict) -> None:
    for level in LEVELS:
        assert maintained[level.turns.name] == rebuilt[level.turns.name], level.name
        votes = level.votes.name
        assert maintained[votes].keys() == rebuilt[votes].keys(), votes
        for key, values in rebuilt[votes].items():
            assert maintained[votes][key] == pytest.approx(values, rel=1e-9, abs=1e-9)


def test_roll_ups_written_with_the_rows_equal_a_rebuild_from_them(engine: Engine) -> None:
    rng = random.Random(20261129)
    local_history(engine, rng, turns=70)
    server_history(engine, rng, turns=50)
    maintained = rollup_rows(engine)
    assert all(maintained[level.turns.name] and maintained[level.votes.name] for level in LEVELS)
    assert {key[-2:] for key in maintained["votes"]} >= {("support", 2), ("", 0)}  # stored prompts are keys
    with engine.begin() as connection:
        rebuild_rollups(connection, LOCAL_PROJECT)
        rebuild_rollups(connection, SERVER_PROJECT)
    assert_same(maintained, rollup_rows(engine))


def test_a_rebuild_of_some_days_recomputes_only_those_days(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    local_history(engine, random.Random(5), turns=40)
    expected = rollup_rows(engine)
    days = sorted({key[1] for key in expected["turns"]})
    pruned, kept = days[:3], days[3:]
    with engine.begin() as connection:  # rows removed behind the roll-ups' back, as a prune does
        connection.execute(delete(TURNS).where((TURNS.c.created_ms // 86_400_000).in_(pruned)))
        summary = rebuild_rollups(connection, LOCAL_PROJECT, days=pruned)
    assert summary.turn_rows == 0
    after = rollup_rows(engine)
    assert {key[1] for key in after["turns"]} == set(kept)
    assert {k: v for k, v in expected["turns"].items() if k[1] in kept} == after["turns"]


def test_the_rebuild_command_recomputes_lost_roll_ups(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    local_history(engine, random.Random(9), turns=15)
    expected = rollup_rows(engine)
    with engine.begin() as connection:
        connection.execute(delete(TURN_ROLLUPS))
    done = subprocess.run(
        [sys.executable, "-m", "bilan_core", "rebuild-rollups"],
        env={"BILAN_DATABASE_URL": sqlite_url, "BILAN_TELEMETRY": "off", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
        cwd=sys.path[0] or None,
    )
    assert "rebuilt" in done.stdout
    assert_same(expected, rollup_rows(engine))
    with engine.connect() as connection:
        assert connection.execute(select(TURN_ROLLUPS.c.turns)).first() is not None


def test_demo_data_is_bulk_loaded_with_its_roll_ups_and_planner_statistics(engine: Engine) -> None:
    summary = seed_demo_data(engine, turns=3_000, seed=4)
    with engine.connect() as connection:
        rolled_turns = connection.execute(select(func.sum(TURN_ROLLUPS.c.turns))).scalar_one()
        rolled_votes = connection.execute(
            select(func.sum(VOTE_ROLLUPS.c.up + VOTE_ROLLUPS.c.down))
        ).scalar_one()
        if engine.dialect.name == "sqlite":
            analyzed = connection.exec_driver_sql("SELECT count(*) FROM sqlite_stat1").scalar_one()
        else:
            analyzed = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_user_tables"
                " WHERE relname = 'turns' AND last_analyze IS NOT NULL"
            ).scalar_one()
    assert summary.turns == 3_000
    assert (rolled_turns, rolled_votes) == (summary.turns, summary.votes)
    assert analyzed > 0


def test_demo_data_seeded_on_top_of_a_history_keeps_the_roll_ups_equal_to_a_rebuild(engine: Engine) -> None:
    local_history(engine, random.Random(12), turns=30)  # the seeder counts the rows already there in
    before = sum(values[0] for values in rollup_rows(engine)["turn_rollups_hourly"].values())
    summary = seed_demo_data(engine, turns=5_000, seed=2, at_ms=AT_MS, days=3)
    seeded = rollup_rows(engine)
    assert before > 0
    assert sum(values[0] for values in seeded["turn_rollups_hourly"].values()) == summary.turns + before
    with engine.begin() as connection:
        rebuild_rollups(connection, LOCAL_PROJECT)
    assert_same(seeded, rollup_rows(engine))
    if engine.dialect.name == "sqlite":  # the load's rollback journal gave way to the WAL again
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"


def test_seeding_sqlite_while_another_connection_reads_keeps_the_wal(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    with engine.connect() as reader:
        reader.execute(select(func.count()).select_from(TURNS)).scalar_one()
        summary = seed_demo_data(engine, turns=2_000, seed=1, at_ms=AT_MS)
        assert reader.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert reader.execute(select(func.count()).select_from(TURNS)).scalar_one() == summary.turns


def test_pruning_and_forgetting_a_user_take_their_rows_out_of_the_roll_ups(engine: Engine) -> None:
    rng = random.Random(31)
    local_history(engine, rng, turns=40)
    server_history(engine, rng, turns=30)
    prune(engine, days=30, at_ms=AT_MS)
    forget_user(engine, user_id="ben", project_id=LOCAL_PROJECT)
    forget_user(engine, user_id="cho", project_id=SERVER_PROJECT)
    maintained = rollup_rows(engine)
    with engine.begin() as connection:
        rebuild_rollups(connection, LOCAL_PROJECT)
        rebuild_rollups(connection, SERVER_PROJECT)
    assert_same(maintained, rollup_rows(engine))
