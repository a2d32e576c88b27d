"""Tracked non-streamed chat calls through the real openai SDK against the loopback server."""

from __future__ import annotations

import asyncio
import copy
import json
import re

import pytest

from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
from tests.chat_helpers import USER, WEATHER_TOOL, all_turns, client_for, only_turn


@pytest.fixture
def client(openai_server, sqlite_url):
    bilan = client_for(openai_server, sqlite_url)
    yield bilan
    bilan.close()


def test_completion_is_recorded_with_request_answer_tokens_and_timing(client, openai_server):
    openai_server.configure(answer="Hello there, Alice.")
    route = {"strategy": "cheapest", "candidates": ["gpt-4o-mini", "gpt-4o"]}
    client.start_conversation("Greetings", conversation_id="conv-1")

    response = client.create_chat_completion(
        [{"role": "system", "content": "Be brief."}, *USER],
        model="gpt-4o",
        max_tokens=50,
        conversation_id="conv-1",
        variant="v2",
        route=route,
        seed=7,
    )

    assert response.content == "Hello there, Alice."
    assert response.model == "gpt-4o"
    assert response.usage.prompt_tokens == 3 + 2 + 3 + 2
    assert response.usage.completion_tokens == 3
    assert response.metadata["finish_reason"] == "stop"
    assert response.metadata["provider"] == openai_server.base_url.split("/")[2]
    assert response.metadata["demo"] is False
    assert response.metadata["latency_ms"] > 0
    turn = only_turn(client)
    assert turn.prompt_id == response.prompt_id
    assert (turn.model, turn.prompt_version, turn.conversation_id) == ("gpt-4o", "v2", "conv-1")
    assert turn.user_id == "alice"
    assert turn.prompt_text == "Say hello"
    assert turn.response == "Hello there, Alice."
    assert turn.parameters == {"max_tokens": 50, "seed": 7}
    assert turn.route == route
    assert turn.status == "ok" and turn.finish_reason == "stop"
    assert (turn.prompt_tokens, turn.completion_tokens, turn.total_tokens) == (10, 3, 13)
    assert turn.latency_ms == pytest.approx(response.metadata["latency_ms"])
    assert turn.created_ms == response.metadata["created_ms"]
    assert turn.messages[0] == {"role": "system", "content": "Be brief."}


def test_temperature_zero_is_sent_as_zero_and_unset_parameters_are_not_sent(client, openai_server):
    client.create_chat_completion(USER, temperature=0)
    client.create_chat_completion(USER)

    with_zero, without = (request.body for request in openai_server.chat_requests)
    assert with_zero["temperature"] == 0
    assert "temperature" not in without
    assert "max_tokens" not in without and "tools" not in without
    assert without["model"] == "gpt-4o-mini"  # the first configured model when no model is named


def test_api_key_is_sent_as_bearer_and_never_stored(client, openai_server, sqlite_url):
    client.create_chat_completion(USER)

    assert openai_server.chat_requests[0].headers["authorization"] == "Bearer sk-test-key"
    with open(sqlite_url.removeprefix("sqlite:///"), "rb") as database:
        assert b"sk-test-key" not in database.read()


def test_max_tokens_cut_reports_length_finish_reason(client, openai_server):
    openai_server.configure(answer="one two three four five six")

    response = client.create_chat_completion(USER, max_tokens=2)

    assert response.content == "one two"
    assert response.metadata["finish_reason"] == "length"
    assert only_turn(client).finish_reason == "length"


def test_tool_call_answer_is_returned_and_recorded(client, openai_server):
    openai_server.reply_with_tool_call("get_weather", {"city": "Lyon"})

    response = client.create_chat_completion(
        [{"role": "user", "content": "Weather in Lyon?"}], tools=[WEATHER_TOOL], tool_choice="auto"
    )

    [call] = response.metadata["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Lyon"}
    assert response.metadata["finish_reason"] == "tool_calls"
    assert openai_server.chat_requests[0].body["tools"] == [WEATHER_TOOL]
    turn = only_turn(client)
    assert turn.tools == [WEATHER_TOOL]
    assert turn.tool_calls == [call]


def test_vote_works_on_the_returned_prompt_id(client):
    response = client.create_chat_completion(USER)

    client.vote(response.prompt_id, -1, "too short")

    stats = client.get_prompt_stats(response.prompt_id)
    assert (stats.negative_votes, stats.comments[0].comment) == (1, "too short")


def test_user_id_argument_overrides_the_client_user(client):
    client.create_chat_completion(USER, user_id="bob")

    assert only_turn(client).user_id == "bob"


def test_per_visitor_copies_share_one_openai_client(client):
    visitor = client.with_identity(user_id="carol", team_session="team-1")
    other = copy.copy(client)

    visitor.create_chat_completion(USER)

    assert visitor._chat_clients() is client._chat_clients() is other._chat_clients()
    turn = only_turn(client)
    assert (turn.user_id, turn.team_session) == ("carol", "team-1")


@pytest.mark.parametrize(
    ("messages", "options", "complaint"),
    [
        ([], {}, "non-empty list"),
        ("hello", {}, "non-empty list"),
        (["hello"], {}, "messages[0] must be a dict"),
        ([{"role": "robot", "content": "hi"}], {}, "unknown role 'robot'"),
        ([{"role": "user"}], {}, "has no 'content'"),
        ([{"role": "user", "content": None}], {}, "empty content"),
        ([{"role": "user", "content": 42}], {}, "content must be text"),
        (USER, {"temperature": 2.5}, "temperature must be a number from 0 to 2"),
        (USER, {"temperature": -0.1}, "temperature must be a number from 0 to 2"),
        (USER, {"temperature": "hot"}, "temperature must be a number"),
        (USER, {"temperature": True}, "temperature must be a number"),
        (USER, {"max_tokens": 0}, "max_tokens must be a whole number of at least 1"),
        (USER, {"max_tokens": 1.5}, "max_tokens must be a whole number"),
        (USER, {"model": ""}, "model must be a non-empty string"),
        (USER, {"tools": "get_weather"}, "tools must be a list"),
        (USER, {"route": "fast"}, "route must be a dict"),
        (USER, {"stream": True}, "stream cannot be passed"),
        (USER, {"variant": "v" * 201}, "variant is 201 characters; the limit is 200"),
        (USER, {"model": "m" * 201}, "model is 201 characters; the limit is 200"),
        (USER, {"conversation_id": "c" * 201}, "conversation_id is 201 characters"),
        (USER, {"user_id": "u" * 201}, "user_id is 201 characters"),
    ],
)
def test_bad_input_raises_value_error_before_any_call_and_records_nothing(
    client, openai_server, messages, options, complaint
):
    with pytest.raises(ValueError, match=re.escape(complaint)):
        client.create_chat_completion(messages, **options)
    with pytest.raises(ValueError, match=re.escape(complaint)):
        client.create_streaming_chat(messages, **options)

    assert openai_server.chat_requests == []
    assert all_turns(client) == []


def test_list_models_comes_from_the_endpoint(client, openai_server):
    openai_server.configure(models=["local-llama", "local-mistral"])

    assert client.list_models() == ["local-llama", "local-mistral"]


def test_list_models_falls_back_to_the_configured_list_when_the_endpoint_fails(openai_server, sqlite_url):
    openai_server.fail(500, "models endpoint is down")
    bilan = Bilan(
        load_settings(
            database_url=sqlite_url,
            openai_base_url=openai_server.base_url,
            models="my-a,my-b",
            telemetry=False,
            max_retries=2,
        )
    )

    assert bilan.list_models() == ["my-a", "my-b"]
    assert len(openai_server.requests) == 1  # no retries for a listing


def test_base_url_without_key_works_for_local_servers(openai_server, sqlite_url):
    bilan = Bilan(
        load_settings(database_url=sqlite_url, openai_base_url=openai_server.base_url, telemetry=False)
    )

    response = bilan.create_chat_completion(USER)

    assert response.metadata["demo"] is False
    assert len(openai_server.chat_requests) == 1


def test_async_completion_is_recorded(client, openai_server):
    openai_server.configure(answer="Async hello.")

    async def ask():
        return await client.acreate_chat_completion(USER, temperature=0, variant="async")

    response = asyncio.run(ask())

    assert response.content == "Async hello."
    assert openai_server.chat_requests[0].body["temperature"] == 0
    turn = only_turn(client)
    assert (turn.prompt_id, turn.response, turn.prompt_version) == (
        response.prompt_id,
        "Async hello.",
        "async",
    )
    assert turn.total_tokens == response.usage.total_tokens


def test_async_client_works_across_event_loops(client, openai_server):
    async def ask():
        return await client.acreate_chat_completion(USER)

    first, second = asyncio.run(ask()), asyncio.run(ask())

    assert first.prompt_id != second.prompt_id
    assert len(all_turns(client)) == 2


def test_labels_up_to_the_column_width_are_recorded_on_postgresql_and_longer_ones_refused_first(
    openai_server, postgres_url
):
    client = client_for(openai_server, postgres_url)
    response = client.create_chat_completion(USER, variant="v" * 200, user_id="u" * 200)
    with pytest.raises(ValueError, match="variant is 201 characters"):
        client.create_chat_completion(USER, variant="v" * 201)
    assert len(openai_server.chat_requests) == 1
    turn = only_turn(client)
    assert (turn.prompt_id, turn.prompt_version, turn.user_id) == (response.prompt_id, "v" * 200, "u" * 200)


def test_a_conversation_id_never_started_is_kept_on_the_turn_and_the_answer_returned(client):
    response = client.create_chat_completion(USER, conversation_id="never-started")
    assert response.content
    turn = only_turn(client)
    assert (turn.prompt_id, turn.conversation_id) == (response.prompt_id, "never-started")
    assert client.get_stats(conversation_id="never-started").total_votes == 0
    client.vote(response.prompt_id, 1)
    assert client.get_stats(conversation_id="never-started").total_votes == 1
