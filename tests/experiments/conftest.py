"""Fixtures of the experiments tests: a local client whose chat calls go to the loopback server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bilan_core.client.bilan import Bilan
from tests.chat_helpers import client_for
from tests.fixtures.openai_server import FakeOpenAIServer


@pytest.fixture
def client(sqlite_url: str, openai_server: FakeOpenAIServer) -> Iterator[Bilan]:
    """A local client for ``alice`` on a fresh SQLite file, answered by the loopback server."""
    bilan = client_for(openai_server, sqlite_url)
    yield bilan
    bilan.close()
