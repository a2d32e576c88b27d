"""Engines, sessions and schema migrations (Alembic) for any SQLAlchemy URL."""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlmodel import Session

from bilan_core.errors import ConfigurationError
from bilan_core.store.data_versions import watch_commits
from bilan_core.urls import masked_url

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported inside the functions that migrate, so that importing the library stays light.

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(url: str) -> Engine:
    """The shared, migrated engine for a database URL (one per URL per process)."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = create_database_engine(url)
            try:
                migrate(engine)
            except OperationalError as exc:
                engine.dispose()
                raise ConfigurationError(
                    f"cannot open the database {masked_url(url)}: {exc.orig or exc}"
                ) from exc
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Store queued turns, then close every cached engine (tests, and processes that fork)."""
    from bilan_core.store.write_behind import close_writers

    close_writers()
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def create_database_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL mode, a busy timeout and a parent folder."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            engine = create_engine(url, pool_pre_ping=True)
            watch_commits(engine)
            return engine
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ConfigurationError(
            f"BILAN_DATABASE_URL is not a valid database URL ({exc}): {masked_url(url)}"
        ) from exc
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5.0})
    event.listen(engine, "connect", _configure_sqlite_connection)
    watch_commits(engine)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    # Deleted and overwritten rows are zeroed on disk, so forgetting a user or pruning leaves no text behind.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
    _ensure_power_function(dbapi_connection)


def _ensure_power_function(dbapi_connection: Any) -> None:
    # SQLite has power() only when built with its math functions; the trust weight needs it.
    try:
        dbapi_connection.execute("SELECT power(2, 2)")
    except sqlite3.OperationalError:
        dbapi_connection.create_function("power", 2, math.pow, deterministic=True)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes; on SQLite it takes the write lock first (``BEGIN IMMEDIATE``)."""
    # A deferred SQLite transaction that reads before it writes fails at once with "database is locked"
    # when another process wrote in between; taking the lock first makes it wait its turn instead.
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield connection


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration this code knows."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def schema_version(engine: Engine) -> str | None:
    """The migration the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def schema_status(engine: Engine) -> str:
    """The database's migration revision, and whether it is the newest this code knows."""
    current = schema_version(engine)
    if current is None:
        return "empty database (not migrated)"
    head = head_revision()
    return current if current == head else f"{current} (newest known: {head})"


def migrate(engine: Engine) -> str:
    """Upgrade the schema to the newest migration, safely when several processes start at once."""
    from alembic import command

    if schema_version(engine) == head_revision():
        return head_revision()
    with engine.connect() as connection:
        _lock_for_migration(connection)
        command.upgrade(_alembic_config(connection), "head")
        connection.commit()
    return head_revision()


def _lock_for_migration(connection: Connection) -> None:
    # Take the write lock before Alembic reads the current version, so a second process waits and
    # then finds the schema already upgraded instead of creating the same tables again.
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(727274)"))
