"""Tools a model may call: a registry of Python functions with JSON-Schema arguments, and built-ins.

Every way a call can go wrong (unknown tool, arguments that are not JSON or break the schema, a
tool that raises) becomes a ``ToolOutcome`` with an error text for the model, never an exception.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import operator
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_RESULT_CHARS = 20_000


class ToolError(Exception):
    """A tool could not do what was asked; the message goes back to the model."""


@dataclass(frozen=True)
class Tool:
    """A Python function the model may call, with a JSON Schema for its keyword arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]

    def __post_init__(self) -> None:
        if not TOOL_NAME.match(self.name):
            raise ValueError(f"tool name {self.name!r} must be 1-64 letters, digits, '_' or '-'")
        if self.parameters.get("type") != "object":
            raise ValueError(f"tool {self.name!r}: the parameters schema must have type 'object'")
        try:
            Draft202012Validator.check_schema(self.parameters)
        except SchemaError as exc:
            raise ValueError(f"tool {self.name!r} has an invalid JSON Schema: {exc.message}") from exc

    def spec(self) -> dict[str, Any]:
        """The tool as the chat completions ``tools`` list expects it."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass(frozen=True)
class ToolOutcome:
    """What one tool call gave: a result or an error, and how long it took."""

    name: str
    arguments: str
    result: str | None
    error: str | None
    duration_ms: float

    @property
    def content(self) -> str:
        """The text sent back to the model as the tool message."""
        if self.error is not None or self.result is None:
            return json.dumps({"error": self.error})
        return self.result


class ToolRegistry:
    """Named tools; runs a model's tool call safely."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> Tool:
        """Add a tool; ValueError if its name is taken."""
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    @property
    def names(self) -> list[str]:
        """The registered tool names, in registration order."""
        return list(self._tools)

    def specs(self) -> list[dict[str, Any]]:
        """Every tool in the chat completions ``tools`` format."""
        return [tool.spec() for tool in self._tools.values()]

    def run(self, name: str, arguments: str | None) -> ToolOutcome:
        """Call a tool with the model's JSON arguments; every failure becomes an error outcome."""
        started = time.perf_counter()
        raw = arguments or ""
        try:
            result, error = _to_result_text(self._call(name, raw)), None
        except ToolError as exc:
            result, error = None, str(exc)
        except Exception as exc:
            result, error = None, f"tool {name!r} failed: {type(exc).__name__}: {exc}"
        return ToolOutcome(name, raw, result, error, (time.perf_counter() - started) * 1000)

    def _call(self, name: str, raw: str) -> Any:
        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join(self._tools) or "none"
            raise ToolError(f"unknown tool {name!r}; the tools are: {known}")
        values = parse_arguments(raw or "{}")
        problems = sorted(Draft202012Validator(tool.parameters).iter_errors(values), key=str)
        if problems:
            where = "/".join(str(part) for part in problems[0].absolute_path) or "arguments"
            raise ToolError(f"invalid arguments for {name!r} at {where}: {problems[0].message}")
        return tool.function(**values)


def parse_arguments(raw: str) -> dict[str, Any]:
    """The JSON object of a tool call's arguments; ToolError if it is not one."""
    try:
        values = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ToolError(f"arguments are not valid JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(values, dict):
        raise ToolError(f"arguments must be a JSON object, got {type(values).__name__}")
    return values


def _to_result_text(result: Any) -> str:
    text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)
    if len(text) > MAX_RESULT_CHARS:
        raise ToolError(f"the result is {len(text):,} characters; the limit is {MAX_RESULT_CHARS:,}")
    return text


WEATHER_CONDITIONS = ("sunny", "partly cloudy", "cloudy", "light rain", "windy", "snow")


def get_weather(city: str, unit: str = "celsius") -> dict[str, Any]:
    """A deterministic demo forecast for a city (the same city always gets the same weather)."""
    name = city.strip()
    if not name:
        raise ToolError("city must not be empty")
    digest = hashlib.sha256(name.lower().encode()).digest()
    celsius = digest[0] % 36 - 5
    temperature = celsius if unit == "celsius" else round(celsius * 9 / 5 + 32)
    return {
        "city": name,
        "temperature": temperature,
        "unit": unit,
        "conditions": WEATHER_CONDITIONS[digest[1] % len(WEATHER_CONDITIONS)],
        "source": "demo data, not a real forecast",
    }


MAX_EXPRESSION_CHARS = 200
MAX_EXPONENT = 100
MAX_MAGNITUDE = 10**300
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def calculator(expression: str) -> dict[str, Any]:
    """Evaluate arithmetic (+ - * / // % ** and parentheses) safely, without ``eval``."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"not an arithmetic expression: {exc.msg}") from exc
    try:
        value = _evaluate(tree.body)
    except ZeroDivisionError as exc:
        raise ToolError("division by zero") from exc
    except OverflowError as exc:
        raise ToolError("the result is too large") from exc
    return {"expression": expression, "result": value}


def _evaluate(node: ast.AST) -> int | float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _bounded(node.value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _bounded(_BINARY[type(node.op)](left, right))
    raise ToolError(f"{type(node).__name__} is not allowed: only numbers and + - * / // % ** ( )")


def _check_power(base: int | float, exponent: int | float) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise ToolError(f"exponents are limited to ±{MAX_EXPONENT}")
    if abs(base) > 1 and exponent > 0 and exponent * math.log10(abs(base)) > 300:
        raise ToolError("the result is too large")


def _bounded(value: Any) -> int | float:
    if isinstance(value, complex):
        raise ToolError("the result is not a real number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("the result is not a finite number")
    if abs(value) > MAX_MAGNITUDE:
        raise ToolError("the result is too large")
    return value


WEATHER_TOOL = Tool(
    name="get_weather",
    description="Current weather for a city (demo data).",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name, e.g. Paris"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
        "additionalProperties": False,
    },
    function=get_weather,
)

CALCULATOR_TOOL = Tool(
    name="calculator",
    description="Evaluate an arithmetic expression with + - * / // % ** and parentheses.",
    parameters={
        "type": "object",
        "properties": {"expression": {"type": "string", "description": "e.g. (2 + 3) * 4"}},
        "required": ["expression"],
        "additionalProperties": False,
    },
    function=calculator,
)


def builtin_tools() -> ToolRegistry:
    """A registry holding the built-in tools: ``get_weather`` and ``calculator``."""
    return ToolRegistry([WEATHER_TOOL, CALCULATOR_TOOL])
