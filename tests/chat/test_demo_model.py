"""The offline bilan-demo model: answers through the real openai SDK with no key, and only then."""

from __future__ import annotations

import asyncio
import json

import pytest

from bilan_core.chat.demo_model import evaluate_arithmetic, find_arithmetic
from bilan_core.client.bilan import Bilan
from bilan_core.errors import ModelNotFoundError
from bilan_core.settings import load_settings
from tests.chat_helpers import CALCULATOR_TOOL, WEATHER_TOOL, client_for, only_turn

HELLO = [{"role": "user", "content": "Hello there"}]


def test_demo_model_answers_when_no_key_or_base_url_is_set(bilan):
    response = bilan.create_chat_completion([{"role": "user", "content": "Tell me about the sea"}])

    assert response.model == "bilan-demo"
    assert "Set OPENAI_API_KEY or OPENAI_BASE_URL" in response.content
    assert response.metadata["demo"] is True and response.metadata["provider"] == "demo"
    assert response.usage.completion_tokens == len(response.content.split(" "))
    turn = only_turn(bilan)
    assert (turn.model, turn.provider, turn.status, turn.response) == (
        "bilan-demo",
        "demo",
        "ok",
        response.content,
    )


def test_demo_answers_are_deterministic(bilan):
    question = [{"role": "user", "content": "Why is the sky blue?"}]

    first = bilan.create_chat_completion(question).content
    second = bilan.create_chat_completion(question).content

    assert first == second
    assert "Why is the sky blue?" in first


def test_demo_model_does_arithmetic_in_text(bilan):
    response = bilan.create_chat_completion([{"role": "user", "content": "What is 12 * (3 + 4)?"}])

    assert response.content.startswith("12 * (3 + 4) = 84.")


def test_demo_stream_goes_word_by_word_with_usage(bilan):
    response = bilan.create_streaming_chat(HELLO)
    chunks = list(response.stream)

    assert len(chunks) == len(response.content.split(" ")) > 5
    assert all(chunk.count(" ") <= 1 for chunk in chunks)
    assert response.content.startswith("Hello! I am bilan-demo")
    assert response.usage.completion_tokens == len(chunks)
    assert response.finish_reason == "stop" and response.ttft_ms is not None
    assert only_turn(bilan).completion_tokens == len(chunks)


def test_demo_honours_max_tokens(bilan):
    response = bilan.create_chat_completion(HELLO, max_tokens=3)

    assert response.content == "Hello! I am"
    assert response.metadata["finish_reason"] == "length"


def test_demo_calls_the_weather_tool_then_uses_its_result(bilan):
    question = {"role": "user", "content": "What's the weather in Paris today?"}

    call_turn = bilan.create_chat_completion([question], tools=[CALCULATOR_TOOL, WEATHER_TOOL])
    [call] = call_turn.metadata["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert call_turn.metadata["finish_reason"] == "tool_calls"

    answer = bilan.create_chat_completion(
        [
            question,
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "18 °C and sunny"},
        ],
        tools=[CALCULATOR_TOOL, WEATHER_TOOL],
    )
    assert answer.content.startswith("Using get_weather: 18 °C and sunny.")
    assert answer.metadata["finish_reason"] == "stop"


def test_demo_calls_the_calculator_in_a_stream(bilan):
    response = bilan.create_streaming_chat(
        [{"role": "user", "content": "Compute 2^10 - 24 please"}], tools=[WEATHER_TOOL, CALCULATOR_TOOL]
    )
    list(response.stream)

    [call] = response.tool_calls
    assert call["function"]["name"] == "calculator"
    assert json.loads(call["function"]["arguments"]) == {"expression": "2**10 - 24"}
    assert response.finish_reason == "tool_calls"


def test_demo_answers_text_when_no_tool_fits_or_tools_are_off(bilan):
    no_fit = bilan.create_chat_completion(
        [{"role": "user", "content": "Write a haiku"}], tools=[WEATHER_TOOL]
    )
    off = bilan.create_chat_completion(
        [{"role": "user", "content": "Weather in Oslo?"}], tools=[WEATHER_TOOL], tool_choice="none"
    )

    assert no_fit.metadata["tool_calls"] == [] and no_fit.content
    assert off.metadata["tool_calls"] == [] and off.content


def test_demo_refuses_other_model_names_clearly(bilan):
    with pytest.raises(ModelNotFoundError, match="only bilan-demo answers"):
        bilan.create_chat_completion(HELLO, model="gpt-4o")

    assert only_turn(bilan).error_type == "unknown_error"


def test_demo_lists_only_itself(bilan):
    assert bilan.list_models() == ["bilan-demo"]


def test_demo_async_twins(bilan):
    async def both():
        answer = await bilan.acreate_chat_completion(HELLO)
        stream = await bilan.acreate_streaming_chat(HELLO)
        return answer, stream, [text async for text in stream]

    answer, stream, chunks = asyncio.run(both())

    assert "".join(chunks) == answer.content == stream.content
    assert stream.status == "ok"


def test_demo_is_not_used_when_a_base_url_is_set(openai_server, sqlite_url):
    client = client_for(openai_server, sqlite_url)

    response = client.create_chat_completion(HELLO)

    assert response.metadata["demo"] is False
    assert response.model == "gpt-4o-mini"
    assert "bilan-demo" not in response.content
    assert len(openai_server.chat_requests) == 1


def test_demo_is_not_used_when_only_a_key_is_set(sqlite_url):
    client = Bilan(load_settings(database_url=sqlite_url, openai_api_key="sk-real", telemetry=False))
    sdk = client._chat_clients().sync()

    assert client.settings.uses_demo_model is False
    assert str(sdk.base_url) == "https://api.openai.com/v1/"
    assert client.settings.chat_model != "bilan-demo"


@pytest.mark.parametrize(
    ("text", "expression", "value"),
    [
        ("What is 12 * (3 + 4)?", "12 * (3 + 4)", 84),
        ("7/2", "7/2", 3.5),
        ("3^2 please", "3**2", 9),
        ("In 2024 we met", None, None),
        ("divide 1 / 0", None, None),
        ("huge 9^999999", None, None),
    ],
)
def test_arithmetic_detection_is_safe(text, expression, value):
    assert find_arithmetic(text) == expression
    if expression is not None:
        assert evaluate_arithmetic(expression) == value


def test_arithmetic_evaluation_refuses_anything_but_numbers():
    assert evaluate_arithmetic("__import__('os').system('true')") is None
    assert evaluate_arithmetic("(1).__class__") is None
