"""Review session tests' clients: local mode on SQLite and on PostgreSQL, and server mode (uvicorn on
PostgreSQL), so every rule is checked the same way in each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
from tests.helpers import server_client


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("server", marks=pytest.mark.postgres),
    ]
)
def facilitator(request: pytest.FixtureRequest) -> Iterator[Bilan]:
    """A client for ``lead``: local on SQLite, local on PostgreSQL, or server mode."""
    if request.param == "server":
        project = request.getfixturevalue("server_project")
        server = request.getfixturevalue("live_server")
        client = server_client(project.key, server.url, user_id="lead")
    else:
        url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
        client = Bilan(load_settings(database_url=url, user_id="lead", telemetry=False))
    yield client
    client.close()
