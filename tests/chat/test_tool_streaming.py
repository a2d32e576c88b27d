"""The streamed tool loops (sync and async) through the real openai SDK: tool call deltas joined, the
answer streamed after the tool rounds, early close, failures and the step bound, each recorded once."""

from __future__ import annotations

import asyncio
import json

import pytest

from bilan_core.chat.tool_loop import STEP_LIMIT_ERROR, ToolStepLimitError
from bilan_core.client.bilan import Bilan
from bilan_core.errors import MalformedResponseError, ServiceUnavailableError
from tests.chat.tool_loop_helpers import FINAL, QUESTION, tool_messages
from tests.chat_helpers import client_for, only_turn
from tests.fixtures.openai_server import FakeOpenAIServer


@pytest.fixture
def client(openai_server: FakeOpenAIServer, sqlite_url: str) -> Bilan:
    openai_server.configure(answer=FINAL)
    return client_for(openai_server, sqlite_url)


def test_streamed_tool_call_deltas_are_joined_run_and_the_answer_streams(client, openai_server):
    openai_server.configure(chunks=4)
    arguments = {"expression": "(10 + 4) * 3"}
    openai_server.reply_with_tool_call("calculator", arguments)

    response = client.stream_with_tools(QUESTION)
    pieces = list(response.stream)

    assert len(pieces) == 4 and "".join(pieces) == FINAL
    assert all(request.body["stream"] for request in openai_server.chat_requests)
    [tool_message] = tool_messages(openai_server.chat_requests[1].body)
    assert json.loads(tool_message["content"])["result"] == 42
    turn = only_turn(client)
    assert turn.prompt_id == response.prompt_id and response.status == "ok"
    assert turn.response == FINAL and turn.ttft_ms is not None and turn.ttft_ms <= turn.latency_ms
    [record] = turn.tool_calls
    assert json.loads(record["function"]["arguments"]) == arguments and record["error"] is None
    assert response.usage.total_tokens == turn.total_tokens


def test_a_streamed_bad_call_is_an_error_for_the_model_too(client, openai_server):
    openai_server.reply_with_tool_call("calculator", '{"expression": ')

    text = "".join(client.stream_with_tools(QUESTION).stream)

    assert text == FINAL
    [tool_message] = tool_messages(openai_server.chat_requests[1].body)
    assert "not valid JSON" in json.loads(tool_message["content"])["error"]


def test_closing_a_streamed_loop_records_it_as_cancelled_with_its_tool_calls(client, openai_server):
    openai_server.configure(chunks=6, chunk_delay=0.05)
    openai_server.reply_with_tool_call("get_weather", {"city": "Kyiv"})

    response = client.stream_with_tools(QUESTION)
    first = next(response.stream)
    response.close()

    turn = only_turn(client)
    assert turn.status == "cancelled" and turn.response == first
    assert turn.tool_calls[0]["function"]["name"] == "get_weather"
    assert response.status == "cancelled"


def test_a_stream_failing_after_a_tool_round_is_recorded_once(client, openai_server):
    openai_server.reply_with_tool_call("calculator", {"expression": "2 * 2"})
    openai_server.fail(500, "Internal error.")

    response = client.stream_with_tools(QUESTION)
    with pytest.raises(ServiceUnavailableError) as caught:
        list(response.stream)
    response.close()

    turn = only_turn(client)
    assert turn.status == "error" and caught.value.prompt_id == turn.prompt_id == response.prompt_id
    assert len(turn.tool_calls) == 1


def test_a_malformed_chunk_in_the_final_answer_is_an_error_turn_with_the_text_so_far(client, openai_server):
    openai_server.reply_with_tool_call("calculator", {"expression": "2 * 2"})
    openai_server.malformed_chunk(after_chunks=2)

    with pytest.raises(MalformedResponseError) as caught, client.stream_with_tools(QUESTION) as response:
        list(response)

    turn = only_turn(client)
    assert (turn.status, turn.prompt_id) == ("error", caught.value.prompt_id)
    assert turn.response and FINAL.startswith(turn.response) and len(turn.tool_calls) == 1


def test_the_demo_model_streams_its_answer_after_the_calculator(bilan):
    response = bilan.stream_with_tools([{"role": "user", "content": "What is 12 * (3 + 4)?"}])
    pieces = list(response)

    assert len(pieces) > 3 and '"result": 84' in "".join(pieces)
    turn = only_turn(bilan)
    assert turn.status == "ok" and turn.tool_calls[0]["function"]["name"] == "calculator"


def test_several_streamed_calls_are_told_apart_by_their_index(client, openai_server):
    openai_server.reply_with_tool_calls(
        ("calculator", {"expression": "7 * 6"}), ("get_weather", {"city": "Bergen", "unit": "fahrenheit"})
    )

    text = "".join(client.stream_with_tools(QUESTION))

    assert text == FINAL
    sums, weather = only_turn(client).tool_calls
    assert json.loads(sums["function"]["arguments"]) == {"expression": "7 * 6"}
    assert json.loads(weather["function"]["arguments"]) == {"city": "Bergen", "unit": "fahrenheit"}
    assert json.loads(weather["result"])["unit"] == "fahrenheit" and sums["error"] is None


def test_the_streamed_loop_stops_at_the_step_bound_too(client, openai_server):
    for _ in range(2):
        openai_server.reply_with_tool_call("calculator", {"expression": "1 + 1"})

    response = client.stream_with_tools(QUESTION, max_steps=1)
    with pytest.raises(ToolStepLimitError, match="after 1 tool round"):
        list(response.stream)
    response.close()

    turn = only_turn(client)
    assert turn.prompt_id == response.prompt_id and turn.error_type == STEP_LIMIT_ERROR
    assert response.status == "error" and len(turn.tool_calls) == 2


def test_the_async_streamed_loop_runs_the_tools_then_streams_the_answer(client, openai_server):
    openai_server.configure(chunks=3)
    openai_server.reply_with_tool_call("calculator", {"expression": "40 + 2"})

    async def read() -> tuple[list[str], str]:
        response = await client.astream_with_tools(QUESTION)
        return [piece async for piece in response], response.prompt_id

    pieces, prompt_id = asyncio.run(read())

    assert len(pieces) == 3 and "".join(pieces) == FINAL
    turn = only_turn(client)
    assert turn.prompt_id == prompt_id and turn.status == "ok"
    assert json.loads(turn.tool_calls[0]["result"])["result"] == 42


def test_closing_the_async_streamed_loop_records_it_as_cancelled(client, openai_server):
    openai_server.configure(chunks=6, chunk_delay=0.05)
    openai_server.reply_with_tool_call("get_weather", {"city": "Tunis"})

    async def read_one() -> str:
        response = await client.astream_with_tools(QUESTION)
        first = await anext(response.stream)
        await response.aclose()
        return first

    first = asyncio.run(read_one())

    turn = only_turn(client)
    assert turn.status == "cancelled" and turn.response == first
    assert turn.tool_calls[0]["function"]["name"] == "get_weather"
