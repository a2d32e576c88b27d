"""Tracked streamed chat: recorded once at the end, on early close, or on failure, with partial text."""

from __future__ import annotations

import asyncio
import json

import pytest

from bilan_core.errors import MalformedResponseError, NetworkError
from tests.chat_helpers import USER, WEATHER_TOOL, all_turns, client_for, only_turn

ANSWER = "one two three four five six seven eight nine ten"


@pytest.fixture
def client(openai_server, sqlite_url):
    openai_server.configure(answer=ANSWER)
    bilan = client_for(openai_server, sqlite_url)
    yield bilan
    bilan.close()


def test_stream_yields_text_and_records_usage_ttft_and_latency(client, openai_server):
    openai_server.configure(chunk_delay=0.01)

    response = client.create_streaming_chat(USER, temperature=0, variant="v1")
    chunks = list(response.stream)

    assert "".join(chunks) == ANSWER
    assert len(chunks) == 10
    assert response.status == "ok" and response.finish_reason == "stop"
    assert response.usage.completion_tokens == 10
    assert response.usage.total_tokens == response.usage.prompt_tokens + 10
    assert 0 < response.ttft_ms < response.latency_ms
    assert response.latency_ms >= 90  # ten chunks, 10 ms apart after the first
    sent = openai_server.chat_requests[0].body
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["temperature"] == 0
    turn = only_turn(client)
    assert (turn.prompt_id, turn.status, turn.response) == (response.prompt_id, "ok", ANSWER)
    assert (turn.prompt_tokens, turn.completion_tokens) == (response.usage.prompt_tokens, 10)
    assert turn.ttft_ms == pytest.approx(response.ttft_ms)
    assert turn.latency_ms == pytest.approx(response.latency_ms)
    assert turn.prompt_version == "v1"
    assert response.metadata["finish_reason"] == "stop" and response.metadata["ttft_ms"] == response.ttft_ms


def test_iterating_the_response_itself_works_and_vote_follows(client):
    response = client.create_streaming_chat(USER)

    text = "".join(response)
    client.vote(response.prompt_id, 1)

    assert text == ANSWER
    assert client.get_prompt_stats(response.prompt_id).positive_votes == 1


def test_turn_is_not_recorded_before_the_stream_ends(client):
    response = client.create_streaming_chat(USER)
    next(response.stream)

    assert all_turns(client) == []
    assert response.status == "streaming"
    list(response.stream)
    assert only_turn(client).status == "ok"


def test_closing_early_records_cancelled_with_the_partial_text(client):
    response = client.create_streaming_chat(USER)
    received = [next(response.stream) for _ in range(3)]

    response.close()

    assert response.status == "cancelled"
    assert response.content == "".join(received) == "one two three"
    turn = only_turn(client)
    assert (turn.status, turn.response, turn.finish_reason) == ("cancelled", "one two three", None)
    assert list(response.stream) == []


def test_closing_before_reading_and_closing_twice_record_one_cancelled_turn(client):
    with client.create_streaming_chat(USER) as response:
        pass
    response.cancel()

    turn = only_turn(client)
    assert (turn.status, turn.response) == ("cancelled", "")


def test_closing_after_the_end_keeps_the_ok_turn(client):
    response = client.create_streaming_chat(USER)
    list(response.stream)

    response.close()

    assert only_turn(client).status == "ok"


def test_connection_cut_mid_stream_raises_network_error_and_records_partial_text(client, openai_server):
    openai_server.cut_stream(after_chunks=4)  # the role chunk and three words
    response = client.create_streaming_chat(USER)
    received = []

    with pytest.raises(NetworkError) as caught:
        for text in response.stream:
            received.append(text)

    assert received == ["one", " two", " three"]
    assert caught.value.prompt_id == response.prompt_id
    assert response.status == "error"
    turn = only_turn(client)
    assert (turn.status, turn.error_type, turn.response) == ("error", "network_error", "one two three")
    assert turn.error_message == caught.value.message


def test_stream_ending_without_finish_reason_is_a_network_error_not_a_success(client, openai_server):
    openai_server.cut_stream(after_chunks=3, abrupt=False)
    response = client.create_streaming_chat(USER)

    with pytest.raises(NetworkError, match="no finish reason"):
        list(response.stream)

    turn = only_turn(client)
    assert (turn.status, turn.error_type, turn.response) == ("error", "network_error", "one two")


def test_streamed_tool_call_is_assembled_and_recorded(client, openai_server):
    openai_server.reply_with_tool_call("get_weather", {"city": "Porto"})

    response = client.create_streaming_chat(
        [{"role": "user", "content": "Weather in Porto?"}], tools=[WEATHER_TOOL]
    )
    chunks = list(response.stream)

    assert chunks == []
    [call] = response.tool_calls
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Porto"}
    assert call["id"].startswith("call_")
    assert response.finish_reason == "tool_calls"
    assert response.ttft_ms is not None
    turn = only_turn(client)
    assert turn.tool_calls == [call] and turn.tools == [WEATHER_TOOL]


def test_async_stream_is_recorded(client, openai_server):
    async def consume():
        response = await client.acreate_streaming_chat(USER, max_tokens=4)
        return response, [text async for text in response]

    response, chunks = asyncio.run(consume())

    assert "".join(chunks) == "one two three four"
    assert response.finish_reason == "length"
    assert openai_server.chat_requests[0].body["max_tokens"] == 4
    turn = only_turn(client)
    assert (turn.status, turn.finish_reason, turn.response) == ("ok", "length", "one two three four")
    assert turn.ttft_ms is not None and turn.latency_ms >= turn.ttft_ms


def test_async_stream_closed_early_is_cancelled(client):
    async def consume_two():
        response = await client.acreate_streaming_chat(USER)
        received = [await anext(response.stream), await anext(response.stream)]
        await response.aclose()
        return response, received

    response, received = asyncio.run(consume_two())

    assert received == ["one", " two"]
    turn = only_turn(client)
    assert (turn.status, turn.response) == ("cancelled", "one two")
    assert response.status == "cancelled"


def test_async_cut_stream_raises_network_error(client, openai_server):
    openai_server.cut_stream(after_chunks=2)

    async def consume():
        response = await client.acreate_streaming_chat(USER)
        return [text async for text in response]

    with pytest.raises(NetworkError):
        asyncio.run(consume())

    turn = only_turn(client)
    assert (turn.status, turn.error_type, turn.response) == ("error", "network_error", "one")


def test_malformed_chunk_raises_a_typed_error_and_records_the_partial_text(client, openai_server):
    openai_server.malformed_chunk(after_chunks=3)  # the role chunk, two words, then an event that is not JSON
    response = client.create_streaming_chat(USER)
    received = []

    with pytest.raises(MalformedResponseError, match="not valid JSON") as caught:
        for text in response.stream:
            received.append(text)

    assert received == ["one", " two"]
    assert caught.value.prompt_id == response.prompt_id and response.status == "error"
    turn = only_turn(client)
    assert (turn.status, turn.error_type, turn.response) == ("error", "unknown_error", "one two")
    assert turn.error_message == caught.value.message


def test_malformed_chunk_inside_with_is_an_error_turn_not_cancelled(client, openai_server):
    openai_server.malformed_chunk(after_chunks=2)

    with pytest.raises(MalformedResponseError), client.create_streaming_chat(USER) as response:
        list(response)

    turn = only_turn(client)
    assert (turn.status, turn.response) == ("error", "one")


def test_async_malformed_chunk_raises_a_typed_error_and_records_the_partial_text(client, openai_server):
    openai_server.malformed_chunk(after_chunks=2)

    async def consume():
        async with await client.acreate_streaming_chat(USER) as response:
            return [text async for text in response]

    with pytest.raises(MalformedResponseError):
        asyncio.run(consume())

    turn = only_turn(client)
    assert (turn.status, turn.error_type, turn.response) == ("error", "unknown_error", "one")
