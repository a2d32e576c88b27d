"""The dialect helpers every shared write uses: ``INSERT … ON CONFLICT``, LEAST/GREATEST, batched rows.

Bilan runs on SQLite and PostgreSQL. Statements are built once per table and dialect (``functools.cache``)
and take their rows from ``rows_parameters``, so one call writes one row (local mode) or thousands
(a server request) with the same SQL.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import JSON, Connection, Table, bindparam, column, func, select
from sqlalchemy.dialects import postgresql, sqlite

from bilan_core.store.models import TURNS


def insert_for(dialect_name: str, table: Table) -> Any:
    """A dialect insert that supports ``on_conflict_do_update`` / ``on_conflict_do_nothing``."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    if dialect_name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"Bilan supports SQLite and PostgreSQL, not {dialect_name}")


def least(dialect: str, *values: Any) -> Any:
    """The smallest of ``values`` (LEAST on PostgreSQL, the scalar MIN on SQLite)."""
    return func.least(*values) if dialect == "postgresql" else func.min(*values)


def greatest(dialect: str, *values: Any) -> Any:
    """The largest of ``values`` (GREATEST on PostgreSQL, the scalar MAX on SQLite)."""
    return func.greatest(*values) if dialect == "postgresql" else func.max(*values)


@cache
def insert_from(dialect: str, table: Table, names: tuple[str, ...], from_turn: tuple[str, ...] = ()) -> Any:
    """An ``INSERT … ON CONFLICT``-able statement taking its rows from ``rows_parameters``.

    On PostgreSQL the rows travel as one JSON parameter that ``json_to_recordset`` expands: one small
    statement whatever the batch size. (A multi-row VALUES list costs the driver a parse of thousands
    of parameters; an executemany costs one statement per row.) There, the ``from_turn`` columns are
    read from the turn with the row's prompt id, if it is stored. Elsewhere it is an executemany.
    """
    statement = insert_for(dialect, table)
    if dialect != "postgresql":
        return statement
    source = (
        func.json_to_recordset(bindparam("batch_rows", type_=JSON))
        .table_valued(*(column(name, table.c[name].type) for name in names))
        .render_derived(name="batch", with_types=True)
    )
    values = [_of_turn(source, name) if name in from_turn else source.c[name] for name in names]
    return statement.from_select(list(names), select(*values))


def _of_turn(source: Any, name: str) -> Any:
    of_row = (TURNS.c.project_id == source.c.project_id, TURNS.c.prompt_id == source.c.prompt_id)
    return select(TURNS.c[name]).where(*of_row).scalar_subquery()


def rows_parameters(connection: Connection, rows: list[dict[str, Any]]) -> Any:
    """The parameters that hand ``rows`` to an ``insert_from`` statement on this connection's dialect."""
    return {"batch_rows": rows} if connection.dialect.name == "postgresql" else rows
