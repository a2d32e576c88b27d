"""The tool registry and the built-in tools: results, and every kind of bad call as an error."""

from __future__ import annotations

import json

import pytest

from bilan_core.chat.tools import (
    Tool,
    ToolError,
    ToolRegistry,
    builtin_tools,
    calculator,
    get_weather,
)


def test_specs_use_the_tools_format() -> None:
    specs = builtin_tools().specs()
    assert [spec["function"]["name"] for spec in specs] == ["get_weather", "calculator"]
    assert all(spec["type"] == "function" for spec in specs)
    assert specs[0]["function"]["parameters"]["required"] == ["city"]


def test_a_good_call_returns_the_json_result_and_its_time() -> None:
    outcome = builtin_tools().run("calculator", '{"expression": "(2 + 3) * 4 ** 2"}')
    assert outcome.error is None
    assert json.loads(outcome.result) == {"expression": "(2 + 3) * 4 ** 2", "result": 80}
    assert outcome.content == outcome.result
    assert outcome.duration_ms >= 0


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("calculator", "{not json", "not valid JSON"),
        ("calculator", "[1, 2]", "must be a JSON object"),
        ("calculator", '{"expression": 5}', "at expression: 5 is not of type 'string'"),
        ("calculator", "{}", "'expression' is a required property"),
        ("calculator", '{"expression": "1", "extra": 1}', "Additional properties"),
        ("get_weather", '{"city": "Oslo", "unit": "kelvin"}', "is not one of"),
        ("send_email", '{"to": "x"}', "unknown tool 'send_email'; the tools are: get_weather, calculator"),
        ("calculator", '{"expression": "1/0"}', "division by zero"),
    ],
)
def test_bad_calls_become_error_outcomes(name: str, arguments: str, expected: str) -> None:
    outcome = builtin_tools().run(name, arguments)
    assert outcome.result is None
    assert expected in outcome.error
    assert json.loads(outcome.content) == {"error": outcome.error}


def test_a_tool_that_raises_becomes_an_error_outcome() -> None:
    def broken(city: str) -> str:
        raise RuntimeError(f"no station in {city}")

    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    registry = ToolRegistry([Tool("flaky", "always fails", schema, broken)])
    outcome = registry.run("flaky", '{"city": "Lyon"}')
    assert outcome.error == "tool 'flaky' failed: RuntimeError: no station in Lyon"


def test_empty_arguments_mean_no_arguments() -> None:
    registry = ToolRegistry([Tool("now", "constant", {"type": "object", "properties": {}}, lambda: "noon")])
    assert registry.run("now", "").result == "noon"


def test_bad_tool_definitions_are_refused() -> None:
    with pytest.raises(ValueError, match="tool name"):
        Tool("has space", "x", {"type": "object"}, print)
    with pytest.raises(ValueError, match="type 'object'"):
        Tool("x", "x", {"type": "string"}, print)
    with pytest.raises(ValueError, match="invalid JSON Schema"):
        Tool("x", "x", {"type": "object", "properties": {"a": {"type": "nonsense"}}}, print)
    registry = builtin_tools()
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Tool("calculator", "again", {"type": "object"}, print))


def test_weather_is_deterministic_and_converts_units() -> None:
    first, second = get_weather("Paris"), get_weather("paris")
    assert first["temperature"] == second["temperature"] and first["conditions"] == second["conditions"]
    fahrenheit = get_weather("Paris", "fahrenheit")
    assert fahrenheit["temperature"] == round(first["temperature"] * 9 / 5 + 32)
    assert "demo" in first["source"]
    with pytest.raises(ToolError, match="empty"):
        get_weather("  ")


@pytest.mark.parametrize(
    ("expression", "result"),
    [("1 + 2 * 3", 7), ("-(4 - 10) / 4", 1.5), ("7 // 2 + 7 % 2", 4), ("2 ** 10", 1024), ("2 ** -1", 0.5)],
)
def test_calculator_does_arithmetic(expression: str, result: float) -> None:
    assert calculator(expression)["result"] == result


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('echo hi')", "Call is not allowed"),
        ("x + 1", "Name is not allowed"),
        ("(1).real", "Attribute is not allowed"),
        ("[1, 2]", "List is not allowed"),
        ("True + 1", "Constant is not allowed"),
        ("'a' * 3", "Constant is not allowed"),
        ("2 ** 1000", "exponents are limited"),
        ("10 ** 99 ** 2", "exponents are limited"),
        ("99999999 ** 99", "too large"),
        ("(-8) ** 0.5", "not a real number"),
        ("1 +", "not an arithmetic expression"),
        ("1" + "+1" * 150, "longer than 200"),
        ("1e299 * 1e299", "not a finite number"),
    ],
)
def test_calculator_refuses_anything_but_bounded_arithmetic(expression: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        calculator(expression)
