"""The analytics tests' database: each test runs on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from bilan_core.store.engine import get_engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """A migrated engine on a fresh SQLite file, then on a fresh PostgreSQL database."""
    return get_engine(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url"))
