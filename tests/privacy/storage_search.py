"""Reading back everything a store holds, as text, to search it for what must not be there."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import bilan_core.store.models  # noqa: F401  (registers the tables)


def files_text(*paths: Path) -> str:
    """The bytes of the files (with their SQLite -wal and -journal companions) decoded as UTF-8."""
    found = []
    for path in paths:
        for one in (path, Path(f"{path}-wal"), Path(f"{path}-journal")):
            if one.exists():
                found.append(one.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(found)


def postgres_text(url: str) -> str:
    """Every row of every table in a PostgreSQL database, each as its text form."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return "\n".join(
                row
                for table in SQLModel.metadata.sorted_tables
                for row in connection.execute(text(f'SELECT t::text FROM "{table.name}" t')).scalars()
            )
    finally:
        engine.dispose()


def leaks(stored: str, originals: list[str]) -> list[str]:
    """The originals that appear in the stored text."""
    return [original for original in originals if original in stored]
