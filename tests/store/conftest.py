"""The retention and forget tests' databases: each test runs on SQLite files and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bilan_core.store.engine import get_engine
from tests.postgres_support import fresh_postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engines(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[Engine, Engine]]:
    """Two fresh databases of one kind: one to prune or forget in, one seeded with only the data kept."""
    if request.param == "sqlite":
        yield (
            get_engine(request.getfixturevalue("sqlite_url")),
            get_engine(f"sqlite:///{tmp_path / 'kept.db'}"),
        )
        return
    with fresh_postgres_database("bilan_kept") as kept_url:
        yield get_engine(request.getfixturevalue("postgres_url")), get_engine(kept_url)
