"""Schema migrations: models and migrations agree, upgrades keep data, concurrent starts are safe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from bilan_core import Bilan, load_settings
from bilan_core.store import prompts  # noqa: F401  (registers the prompt tables)
from bilan_core.store.engine import (
    _alembic_config,
    create_database_engine,
    get_engine,
    head_revision,
    migrate,
    schema_version,
)
from bilan_core.store.rollup_rebuild import rebuild_rollups
from tests.helpers import add_turn, exit_codes_of_processes
from tests.rollup_support import rollup_rows


def differences(url: str) -> list[object]:
    engine = get_engine(url)
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)


# SQLite cannot reflect expression indexes (the daily roll-up ones), so they are skipped there, with a
# warning; the PostgreSQL test below compares them too.
@pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning")
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_the_migrations_build_exactly_the_tables_the_models_describe_on_sqlite(sqlite_url: str) -> None:
    assert differences(sqlite_url) == []


def test_the_migrations_build_exactly_the_tables_the_models_describe_on_postgresql(postgres_url: str) -> None:
    assert differences(postgres_url) == []


def test_migrating_an_existing_database_keeps_its_data(sqlite_url: str) -> None:
    client = Bilan(load_settings(database_url=sqlite_url))
    prompt_id = add_turn(client.engine)
    client.vote(prompt_id, 1, "kept across upgrades")
    fresh_engine = create_database_engine(sqlite_url)
    assert migrate(fresh_engine) == head_revision() == schema_version(fresh_engine)
    with fresh_engine.connect() as connection:
        assert connection.execute(text("SELECT comment FROM votes")).scalar_one() == "kept across upgrades"


def test_sqlite_files_run_in_wal_mode(sqlite_url: str) -> None:
    with get_engine(sqlite_url).connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 5000


def _open_database(url: str) -> None:
    Bilan(load_settings(database_url=url)).track("started")


def test_several_processes_can_create_the_same_new_database_at_once(sqlite_url: str) -> None:
    assert exit_codes_of_processes(_open_database, [(sqlite_url,)] * 6) == [0] * 6
    with get_engine(sqlite_url).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM events")).scalar_one() == 6


def upgrade_to(engine, revision: str) -> None:
    from alembic import command

    with engine.connect() as connection:
        command.upgrade(_alembic_config(connection), revision)
        connection.commit()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_upgrading_to_hourly_prompt_roll_ups_labels_votes_and_fills_every_level(
    kind: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("sqlite_url" if kind == "sqlite" else "postgres_url")
    engine = create_database_engine(url)
    upgrade_to(engine, "0008")
    with engine.begin() as connection:  # rows written by a version without the new columns
        connection.execute(
            text(
                "INSERT INTO turns (project_id, prompt_id, user_id, model, prompt_name, prompt_number,"
                " status, latency_ms, created_ms, capture) VALUES"
                " (0, 'p1', 'ana', 'm', 'support', 2, 'ok', 250.0, 1790000000000, 'full'),"
                " (0, 'p2', 'ben', 'm', NULL, NULL, 'ok', 90.0, 1790003600000, 'full')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO votes (project_id, prompt_id, user_id, value, model, created_ms, updated_ms)"
                " VALUES (0, 'p1', 'ana', 1, 'm', 1790000100000, 1790000100000),"
                " (0, 'p2', 'ana', -1, 'm', 1790003700000, 1790003700000)"
            )
        )
    assert migrate(engine) == head_revision()
    with engine.connect() as connection:
        labels = connection.execute(
            text("SELECT prompt_id, prompt_name, prompt_number FROM votes ORDER BY 1")
        )
        assert [tuple(row) for row in labels] == [("p1", "support", 2), ("p2", None, None)]
    stored = rollup_rows(engine)
    assert sum(values[0] for values in stored["turn_rollups_hourly"].values()) == 2
    assert sum(values[0] for values in stored["turn_rollups_by_model"].values()) == 2
    assert {key[-2:] for key in stored["votes"]} == {("support", 2), ("", 0)}
    with engine.begin() as connection:
        rebuild_rollups(connection, 0)
    assert rollup_rows(engine) == stored
