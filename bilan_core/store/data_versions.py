"""One change counter per project, raised by every transaction that changes what the analytics show.

The Analytics page caches its figures under this counter, so reading it must cost the same at any
number of turns: it is one row, read by its key. A write function calls ``mark_changed`` inside its
transaction; the counter is raised once, as the last statement before that transaction commits (a
``commit`` listener on the engine), so a rolled-back write raises nothing and, on PostgreSQL, the
counter's row is locked only for the commit itself, after every other lock the transaction takes (no
deadlock, whatever order the transaction wrote in).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Connection, Engine, Table, event, select
from sqlmodel import Field, SQLModel

_CHANGED = "bilan_changed_projects"  # connection.info key: projects this transaction changed

_RAISE_SQL = {
    "sqlite": "INSERT INTO data_versions (project_id, version) VALUES (?, 1) "
    "ON CONFLICT (project_id) DO UPDATE SET version = data_versions.version + 1",
    "postgresql": "INSERT INTO data_versions (project_id, version) VALUES (%s, 1) "
    "ON CONFLICT (project_id) DO UPDATE SET version = data_versions.version + 1",
}


class DataVersion(SQLModel, table=True):
    """How many committed transactions changed a project's turns, votes, conversations or events."""

    __tablename__ = "data_versions"

    project_id: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    version: int = Field(default=0, sa_type=BigInteger)


DATA_VERSIONS: Table = DataVersion.__table__  # type: ignore[attr-defined]


def mark_changed(connection: Connection, project_id: int) -> None:
    """Raise ``project_id``'s counter when this connection's transaction commits."""
    connection.info.setdefault(_CHANGED, set()).add(project_id)


def read_version(connection: Connection, project_id: int) -> int:
    """The project's counter (0 before its first change)."""
    found = connection.execute(
        select(DATA_VERSIONS.c.version).where(DATA_VERSIONS.c.project_id == project_id)
    ).scalar()
    return int(found or 0)


def watch_commits(engine: Engine) -> None:
    """Make ``engine``'s commits raise the counters their transactions marked."""
    event.listen(engine, "commit", _raise_marked)
    event.listen(engine, "rollback", _forget_marked)


def _raise_marked(connection: Connection) -> None:
    changed = connection.info.pop(_CHANGED, None)
    if not changed:
        return
    sql = _RAISE_SQL[connection.dialect.name]
    # The DBAPI cursor, not connection.execute: the commit is already under way in SQLAlchemy.
    cursor: Any = connection.connection.cursor()
    try:
        for project_id in sorted(changed):
            cursor.execute(sql, (project_id,))
    finally:
        cursor.close()


def _forget_marked(connection: Connection) -> None:
    connection.info.pop(_CHANGED, None)
