"""The tool loop through the real openai SDK: the loopback server's tool calls, the offline demo model,
every kind of bad tool call, the step bound, failures and votes (the streamed loops: test_tool_streaming)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bilan_core.chat.tool_loop import (
    STEP_LIMIT_ERROR,
    ToolStepLimitError,
    call_record,
    describe_tool_call,
)
from bilan_core.chat.tools import Tool, ToolError, ToolRegistry, builtin_tools
from bilan_core.client.bilan import Bilan
from bilan_core.errors import ServiceUnavailableError
from bilan_core.settings import DEMO_MODEL
from tests.chat.tool_loop_helpers import FINAL, QUESTION, tool_messages
from tests.chat_helpers import all_turns, client_for, only_turn
from tests.fixtures.openai_server import FakeOpenAIServer, count_prompt_tokens


@pytest.fixture
def client(openai_server: FakeOpenAIServer, sqlite_url: str) -> Bilan:
    openai_server.configure(answer=FINAL)
    return client_for(openai_server, sqlite_url)


def test_the_loop_runs_the_tool_sends_the_result_back_and_records_one_turn(client, openai_server):
    openai_server.reply_with_tool_call("calculator", {"expression": "6 * 7"})

    response = client.run_with_tools(QUESTION)

    assert response.content == FINAL and response.steps == 1
    first, second = (request.body for request in openai_server.chat_requests)
    assert first["tools"] == builtin_tools().specs()
    assert not {"functions", "function_call"} & (set(first) | set(second))
    [assistant] = [message for message in second["messages"] if message["role"] == "assistant"]
    [call] = assistant["tool_calls"]
    assert assistant["content"] is None and call["function"]["name"] == "calculator"
    [tool_message] = tool_messages(second)
    assert tool_message["tool_call_id"] == call["id"]
    assert json.loads(tool_message["content"]) == {"expression": "6 * 7", "result": 42}

    turn = only_turn(client)
    assert turn.prompt_id == response.prompt_id and turn.response == FINAL and turn.status == "ok"
    [record] = turn.tool_calls
    assert record["id"] == call["id"] and record["step"] == 1
    assert record["function"] == {"name": "calculator", "arguments": '{"expression": "6 * 7"}'}
    assert json.loads(record["result"]) == {"expression": "6 * 7", "result": 42}
    assert record["error"] is None and record["duration_ms"] >= 0
    assert turn.tools == builtin_tools().specs()
    # Tokens of both rounds: the tool round's 8 completion tokens plus the answer's words.
    prompts = count_prompt_tokens(first["messages"]) + count_prompt_tokens(second["messages"])
    assert turn.prompt_tokens == prompts
    assert turn.completion_tokens == 8 + len(FINAL.split(" "))
    assert response.usage.total_tokens == turn.total_tokens


def test_a_vote_attaches_to_the_final_answer(client, openai_server):
    openai_server.reply_with_tool_call("get_weather", {"city": "Oslo"})
    response = client.run_with_tools([{"role": "user", "content": "Weather in Oslo?"}])

    client.vote(response.prompt_id, -1, "the forecast was not used")

    stats = client.get_prompt_stats(response.prompt_id)
    assert (stats.negative_votes, stats.positive_votes) == (1, 0)
    assert stats.comments[0].comment == "the forecast was not used"
    assert client.get_stats().total_votes == 1


def raising_tool() -> Tool:
    def explode(text: str) -> str:
        raise RuntimeError(f"cannot handle {text}")

    return Tool(
        name="explode",
        description="Always fails.",
        parameters={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
        function=explode,
    )


@pytest.mark.parametrize(
    ("name", "arguments", "expected_error"),
    [
        ("calculator", '{"expression": "6 *', "arguments are not valid JSON"),
        ("calculator", '"6 * 7"', "arguments must be a JSON object, got str"),
        ("calculator", {"expression": 42}, "invalid arguments for 'calculator' at expression"),
        ("calculator", {}, "'expression' is a required property"),
        ("get_weather", {"city": "Paris", "unit": "kelvin"}, "at unit: 'kelvin' is not one of"),
        ("delete_everything", {}, "unknown tool 'delete_everything'; the tools are: get_weather, calculator"),
        ("calculator", {"expression": "1 / 0"}, "division by zero"),
        ("calculator", {"expression": "__import__('os')"}, "Call is not allowed"),
        ("explode", {"text": "this"}, "tool 'explode' failed: RuntimeError: cannot handle this"),
    ],
)
def test_every_bad_tool_call_goes_back_to_the_model_as_an_error(
    client, openai_server, name, arguments, expected_error
):
    openai_server.reply_with_tool_call(name, arguments)
    tools = builtin_tools()
    tools.register(raising_tool())

    response = client.run_with_tools(QUESTION, tools=tools)

    assert response.content == FINAL
    [tool_message] = tool_messages(openai_server.chat_requests[1].body)
    assert expected_error in json.loads(tool_message["content"])["error"]
    [record] = only_turn(client).tool_calls
    assert expected_error in record["error"] and record["result"] is None
    assert record["function"]["name"] == name


def test_several_calls_in_one_answer_all_run_in_order(client, openai_server):
    openai_server.reply_with_tool_calls(
        ("get_weather", {"city": "Lima"}), ("calculator", {"expression": "2+2"})
    )

    response = client.run_with_tools(QUESTION)

    weather, sums = tool_messages(openai_server.chat_requests[1].body)
    assert json.loads(weather["content"])["city"] == "Lima"
    assert json.loads(sums["content"])["result"] == 4
    assert [(r["function"]["name"], r["step"]) for r in response.tool_calls] == [
        ("get_weather", 1),
        ("calculator", 1),
    ]
    assert len(only_turn(client).tool_calls) == 2


def test_rounds_go_on_until_the_answer_and_each_round_sees_every_result(client, openai_server):
    openai_server.reply_with_tool_call("get_weather", {"city": "Rome"})
    openai_server.reply_with_tool_call("calculator", {"expression": "3 ** 2"})

    response = client.run_with_tools(QUESTION, max_steps=2)

    assert response.steps == 2 and response.content == FINAL
    last = openai_server.chat_requests[2].body
    assert [json.loads(m["content"]).get("city", "-") for m in tool_messages(last)] == ["Rome", "-"]
    assert [record["step"] for record in only_turn(client).tool_calls] == [1, 2]


def test_the_step_bound_stops_the_loop_with_a_clear_error_and_a_stored_status(client, openai_server):
    for _ in range(3):
        openai_server.reply_with_tool_call("calculator", {"expression": "1 + 1"})

    with pytest.raises(ToolStepLimitError, match="still asked for tools after 2 tool round") as caught:
        client.run_with_tools(QUESTION, max_steps=2)

    assert len(openai_server.chat_requests) == 3
    turn = only_turn(client)
    assert turn.prompt_id == caught.value.prompt_id
    assert (turn.status, turn.error_type) == ("error", STEP_LIMIT_ERROR)
    assert "raise max_steps" in turn.error_message
    ran = [(record["step"], record["result"] is not None) for record in turn.tool_calls]
    assert ran == [(1, True), (2, True), (3, False)]
    assert describe_tool_call(turn.tool_calls[2]).endswith("→ not run")


def test_a_forced_tool_choice_applies_to_the_first_round_only(client, openai_server):
    forced = {"type": "function", "function": {"name": "calculator"}}

    response = client.run_with_tools(QUESTION, tool_choice=forced)

    first, second = (request.body for request in openai_server.chat_requests)
    assert first["tool_choice"] == forced and "tool_choice" not in second
    assert "'expression' is a required property" in response.tool_calls[0]["error"]
    assert response.content == FINAL


def test_a_provider_failure_mid_loop_keeps_the_tool_calls_on_the_failed_turn(client, openai_server):
    openai_server.reply_with_tool_call("calculator", {"expression": "5 - 3"})
    openai_server.fail(503, "The engine is overloaded.")

    with pytest.raises(ServiceUnavailableError, match="overloaded") as caught:
        client.run_with_tools(QUESTION)

    turn = only_turn(client)
    assert caught.value.prompt_id == turn.prompt_id
    assert (turn.status, turn.error_type) == ("error", "service_unavailable")
    assert json.loads(turn.tool_calls[0]["result"])["result"] == 2


def test_the_async_loop_runs_the_tools_and_records_one_turn(client, openai_server):
    openai_server.reply_with_tool_call("calculator", {"expression": "9 - 2"})

    response = asyncio.run(client.arun_with_tools(QUESTION))

    assert response.content == FINAL
    assert json.loads(response.tool_calls[0]["result"])["result"] == 7
    assert only_turn(client).prompt_id == response.prompt_id


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"max_steps": 0}, "max_steps must be a whole number from 1 to 50"),
        ({"max_steps": "3"}, "max_steps must be a whole number"),
        ({"max_steps": 51}, "max_steps must be a whole number"),
        ({"tools": []}, "needs at least one tool"),
        ({"tools": [{"type": "function"}]}, "tools must be a ToolRegistry or Tool objects .*got dict"),
        ({"route": {"model": "x"}}, "route= is not an option"),
        ({"temperature": 3}, "temperature must be a number from 0 to 2"),
    ],
)
def test_bad_loop_options_are_refused_before_any_call(client, openai_server, arguments, message):
    with pytest.raises(ValueError, match=message):
        client.run_with_tools(QUESTION, **arguments)
    assert openai_server.chat_requests == [] and all_turns(client) == []


def test_bad_messages_are_refused_before_any_call(client, openai_server):
    for messages in ("hello", [], [{"role": "robot", "content": "x"}]):
        with pytest.raises(ValueError, match="messages"):
            client.run_with_tools(messages)
    assert openai_server.chat_requests == [] and all_turns(client) == []


def test_the_demo_model_calls_the_weather_tool_and_answers_with_its_result(bilan):
    response = bilan.run_with_tools([{"role": "user", "content": "What is the weather in Paris?"}])

    [record] = response.tool_calls
    forecast = json.loads(record["result"])
    assert forecast["city"] == "Paris" and forecast == get_weather_for("Paris")
    assert f'"temperature": {forecast["temperature"]}' in response.content
    turn = only_turn(bilan)
    assert turn.model == DEMO_MODEL and turn.prompt_id == response.prompt_id
    bilan.vote(response.prompt_id, 1)
    assert bilan.get_prompt_stats(response.prompt_id).positive_votes == 1


def get_weather_for(city: str) -> dict[str, Any]:
    """The built-in tool's own answer, as the loop should have stored it."""
    outcome = builtin_tools().run("get_weather", json.dumps({"city": city}))
    return json.loads(outcome.result)


def test_the_demo_model_answers_without_tools_when_none_fits(bilan):
    response = bilan.run_with_tools([{"role": "user", "content": "Tell me about owls"}])

    assert response.steps == 0 and response.tool_calls == []
    assert only_turn(bilan).tool_calls is None


def test_tool_calls_are_described_as_one_line_of_text():
    ok = {"function": {"name": "calculator", "arguments": '{"expression": "1+1"}'}, "result": '{"result": 2}',
          "error": None, "duration_ms": 0.5}  # fmt: skip
    failed = dict(ok, result=None, error="division by zero")
    long = dict(ok, result="x" * 1000)

    assert describe_tool_call(ok) == '🔧 calculator({"expression": "1+1"}) → {"result": 2} (0.5 ms)'
    assert describe_tool_call(failed) == (
        '🔧 calculator({"expression": "1+1"}) → error: division by zero (0.5 ms)'
    )
    assert len(describe_tool_call(long)) < 400 and describe_tool_call(long).count("…") == 1


def test_a_tool_error_raised_on_purpose_reads_as_its_message():
    def refuse(city: str) -> str:
        raise ToolError(f"no data for {city}")

    tool = Tool(
        name="forecast",
        description="Refuses.",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}},
        function=refuse,
    )
    call = {"id": "c1", "function": {"name": "forecast", "arguments": '{"city": "Nice"}'}}

    stored = call_record(call, 1, ToolRegistry([tool]))

    assert (stored["id"], stored["error"], stored["result"]) == ("c1", "no data for Nice", None)


@pytest.mark.postgres
def test_the_loop_stores_its_turn_on_postgresql(postgres_url, openai_server):
    openai_server.configure(answer=FINAL)
    client = client_for(openai_server, postgres_url)
    openai_server.reply_with_tool_call("calculator", {"expression": "2 ** 10"})

    response = client.run_with_tools(QUESTION)
    client.vote(response.prompt_id, 1)

    turn = only_turn(client)
    assert turn.prompt_id == response.prompt_id
    assert json.loads(turn.tool_calls[0]["result"])["result"] == 1024
    assert client.get_stats().total_votes == 1
