"""The OpenAI client pool of the tracked calls: the key sent and never stored, one client shared by the
per-visitor copies, a keyless local server, and one async client per event loop."""

from __future__ import annotations

import asyncio
import copy

import pytest

from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
from tests.chat_helpers import USER, all_turns, client_for, only_turn


@pytest.fixture
def client(openai_server, sqlite_url):
    bilan = client_for(openai_server, sqlite_url)
    yield bilan
    bilan.close()


def test_api_key_is_sent_as_bearer_and_never_stored(client, openai_server, sqlite_url):
    client.create_chat_completion(USER)

    assert openai_server.chat_requests[0].headers["authorization"] == "Bearer sk-test-key"
    with open(sqlite_url.removeprefix("sqlite:///"), "rb") as database:
        assert b"sk-test-key" not in database.read()


def test_per_visitor_copies_share_one_openai_client(client):
    visitor = client.with_identity(user_id="carol", team_session="team-1")
    other = copy.copy(client)

    visitor.create_chat_completion(USER)

    assert visitor._chat_clients() is client._chat_clients() is other._chat_clients()
    turn = only_turn(client)
    assert (turn.user_id, turn.team_session) == ("carol", "team-1")


def test_base_url_without_key_works_for_local_servers(openai_server, sqlite_url):
    bilan = Bilan(
        load_settings(database_url=sqlite_url, openai_base_url=openai_server.base_url, telemetry=False)
    )

    response = bilan.create_chat_completion(USER)

    assert response.metadata["demo"] is False
    assert len(openai_server.chat_requests) == 1


def test_async_client_works_across_event_loops(client, openai_server):
    async def ask():
        return await client.acreate_chat_completion(USER)

    first, second = asyncio.run(ask()), asyncio.run(ask())

    assert first.prompt_id != second.prompt_id
    assert len(all_turns(client)) == 2
