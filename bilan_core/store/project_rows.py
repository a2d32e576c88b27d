"""One row of a project by its id, for the tables keyed by their own id (comparisons, batch runs).

A row of another project is as unknown as a missing one: the caller learns nothing about it.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session, select

from bilan_core.errors import NotFoundError
from bilan_core.store.models import BatchRun, Comparison, Project

RowT = TypeVar("RowT", BatchRun, Comparison)
NAMES: dict[type, str] = {BatchRun: "batch run", Comparison: "comparison"}


def project_row(session: Session, table: type[RowT], project_id: int, row_id: object) -> RowT:
    """The ``table`` row with id ``row_id`` in the project; NotFoundError naming it otherwise."""
    row = session.get(table, row_id) if isinstance(row_id, str) else None
    if row is None or row.project_id != project_id:
        raise NotFoundError(f"no {NAMES[table]} has id {row_id!r}")
    return row


def project_id_named(engine: Engine, name: str) -> int:
    """The id of the server project called ``name``; NotFoundError if there is none."""
    with Session(engine) as session:
        found = session.exec(select(Project.id).where(Project.name == name.strip())).first()
    if found is None:
        raise NotFoundError(f"no project is named {name!r} (`python -m bilan_core keys list` lists them)")
    return found
