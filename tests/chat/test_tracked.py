"""Tracked non-streamed chat calls through the real openai SDK against the loopback server."""

from __future__ import annotations

import asyncio
import json

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


def test_list_models_comes_from_the_endpoint(client, openai_server):
    openai_server.configure(models=["local-llama", "local-mistral"])

    assert client.list_models() == ["local-llama", "local-mistral"]


def test_an_answer_asked_again_is_a_new_turn_linked_to_the_old_one(client):
    first = client.create_chat_completion(USER)
    again = client.create_streaming_chat(USER, regenerated_from=first.prompt_id)
    list(again)

    turns = all_turns(client)
    assert [(t.prompt_id, t.regenerated_from) for t in turns] == [
        (first.prompt_id, None),
        (again.prompt_id, first.prompt_id),
    ]
    with pytest.raises(ValueError, match="regenerated_from must be a non-empty string"):
        client.create_chat_completion(USER, regenerated_from="")


def test_list_models_lists_only_chat_models_unless_asked_for_all(client, openai_server):
    others = ["text-embedding-3-small", "gpt-image-1", "dall-e-3", "tts-1", "whisper-1", "gpt-4o-transcribe"]
    others += ["omni-moderation-latest", "gpt-4o-realtime-preview", "davinci-002", "nomic-embed-text"]
    openai_server.configure(models=[*others, "gpt-4o", "o3-mini", "ft:gpt-4o-mini:acme::x1", "llama3.1:8b"])

    assert client.list_models() == ["ft:gpt-4o-mini:acme::x1", "gpt-4o", "llama3.1:8b", "o3-mini"]
    assert sorted(client.list_models(chat_only=False)) == sorted(
        [*others, "gpt-4o", "o3-mini", "ft:gpt-4o-mini:acme::x1", "llama3.1:8b"]
    )


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


def test_a_conversation_id_never_started_is_kept_on_the_turn_and_the_answer_returned(client):
    response = client.create_chat_completion(USER, conversation_id="never-started")
    assert response.content
    turn = only_turn(client)
    assert (turn.prompt_id, turn.conversation_id) == (response.prompt_id, "never-started")
    assert client.get_stats(conversation_id="never-started").total_votes == 0
    client.vote(response.prompt_id, 1)
    assert client.get_stats(conversation_id="never-started").total_votes == 1
