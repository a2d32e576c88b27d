"""The tool loop: ask with ``tools``, run the model's tool calls through a registry, send the results back
as ``tool`` messages, and repeat until the model answers, at most ``max_steps`` tool rounds.

The whole exchange is recorded as ONE turn, under one ``prompt_id``: the final answer, with every tool
call (name, arguments, result or error, time) in ``turns.tool_calls``, tokens summed over the rounds and
the latency of the whole loop. Votes on that ``prompt_id`` rate the final answer. A tool call that goes
wrong (bad JSON, schema mismatch, unknown tool, tool error) goes back to the model as an error text.
The streamed loops are in ``tool_streaming``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Unpack

from bilan_core.chat.options import DEFAULT_MAX_STEPS, ToolRunOptions
from bilan_core.chat.prompting import apply_prompt
from bilan_core.chat.responses import TrackedChatResponse, Usage
from bilan_core.chat.routing import RouteDecision, resolve_model
from bilan_core.chat.tools import Tool, ToolRegistry, builtin_tools
from bilan_core.chat.tracked import TrackedChat
from bilan_core.chat.validation import validate_messages
from bilan_core.clock import now_ms
from bilan_core.errors import BilanError, ProviderError
from bilan_core.store.models import TurnFields

MAX_STEPS_LIMIT = 50
STEP_LIMIT_ERROR = "tool_step_limit"
SHOWN_TEXT_CHARS = 300


class ToolStepLimitError(BilanError):
    """The model still asked for tools after ``max_steps`` tool rounds; the loop stopped."""

    error_type = STEP_LIMIT_ERROR

    def __init__(self, message: str, *, prompt_id: str, tool_calls: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.message = message
        self.prompt_id = prompt_id
        self.tool_calls = tool_calls


@dataclass
class ToolLoopResponse(TrackedChatResponse):
    """The final answer of a tool loop, its ``prompt_id`` to vote on, and every tool call made."""

    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    route: dict[str, Any] | None = None


class _RoundClient(TrackedChat):
    """Makes the loop's model calls on the owner's connections, handing each round's turn to the loop."""

    def __init__(self, owner: TrackedChat, rounds: list[TurnFields]) -> None:
        self.settings = owner.settings
        self.user_id = owner.user_id
        self.team_session = owner.team_session
        self._owner = owner
        self._rounds = rounds
        self.__dict__["_chat_holder"] = owner._chat_clients()

    def record_turn_fields(self, fields: TurnFields) -> None:
        """Keep the round's turn for the loop; only the loop's final turn is recorded."""
        self._rounds.append(fields)

    def route_model(self) -> RouteDecision:
        """The owner's routing policy's choice (the loop routes once, before its first round)."""
        return self._owner.route_model()


def as_registry(tools: ToolRegistry | Iterable[Tool] | None) -> ToolRegistry:
    """The registry to use: the given one, one made of the given tools, or the built-in tools."""
    if tools is None:
        return builtin_tools()
    if isinstance(tools, ToolRegistry):
        registry = tools
    else:
        items = list(tools)
        strangers = [type(item).__name__ for item in items if not isinstance(item, Tool)]
        if strangers:
            raise ValueError(
                "tools must be a ToolRegistry or Tool objects (a function with a JSON Schema), "
                f"got {strangers[0]}"
            )
        registry = ToolRegistry(items)
    if not registry.names:
        raise ValueError("the tool loop needs at least one tool")
    return registry


def validate_max_steps(max_steps: object) -> int:
    """``max_steps`` if it is a whole number from 1 to ``MAX_STEPS_LIMIT``, else ValueError."""
    if type(max_steps) is not int or not 1 <= max_steps <= MAX_STEPS_LIMIT:
        raise ValueError(f"max_steps must be a whole number from 1 to {MAX_STEPS_LIMIT}, got {max_steps!r}")
    return max_steps


def call_record(call: dict[str, Any], step: int, registry: ToolRegistry) -> dict[str, Any]:
    """Run one tool call of the model and describe it as stored in ``turns.tool_calls``."""
    function = call.get("function") or {}
    outcome = registry.run(str(function.get("name") or ""), function.get("arguments"))
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {"name": outcome.name, "arguments": outcome.arguments},
        "step": step,
        "result": outcome.result,
        "error": outcome.error,
        "duration_ms": round(outcome.duration_ms, 3),
    }


def describe_tool_call(record: dict[str, Any]) -> str:
    """One plain-text line for a stored tool call: name, arguments, result or error, and time."""
    function = record.get("function") or {}
    call = f"{function.get('name') or '?'}({_shorten(function.get('arguments') or '')})"
    if record.get("error") is not None:
        outcome = f"error: {_shorten(record['error'])}"
    elif record.get("result") is not None:
        outcome = _shorten(record["result"])
    else:
        return f"🔧 {call} → not run"
    duration = record.get("duration_ms")
    timing = f" ({duration:.1f} ms)" if isinstance(duration, int | float) else ""
    return f"🔧 {call} → {outcome}{timing}"


def _shorten(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= SHOWN_TEXT_CHARS else text[: SHOWN_TEXT_CHARS - 1] + "…"


def _sum(values: Iterable[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return sum(known) if known else None


class ToolLoop:
    """One run of the loop: the transcript so far, the rounds' turns and the tool calls made."""

    def __init__(
        self,
        client: TrackedChat,
        messages: list[dict[str, Any]],
        run_options: Mapping[str, Any],
    ) -> None:
        compiled, run_options = apply_prompt(messages, run_options)
        messages = validate_messages(compiled)
        if "route" in run_options:
            raise ValueError("route= is not an option of the tool loop; pass model='auto' to route")
        options = dict(run_options)
        self.client = client
        self.registry = as_registry(options.pop("tools", None))
        self.max_steps = validate_max_steps(options.pop("max_steps", DEFAULT_MAX_STEPS))
        self.model, self.route = resolve_model(
            options.pop("model", None), client.settings, decide=client.route_model
        )
        self.tool_choice = options.pop("tool_choice", None)
        self.options = options
        self.prompt_id = str(uuid.uuid4())
        self.transcript = list(messages)
        self.rounds: list[TurnFields] = []
        self.records: list[dict[str, Any]] = []
        self.steps = 0
        self.created_ms = now_ms()
        self.started = time.perf_counter()
        self.ttft_ms: float | None = None
        self.final: TurnFields | None = None
        self.rounds_client = _RoundClient(client, self.rounds)

    def round_options(self) -> dict[str, Any]:
        """The keyword arguments of the next model call (``tool_choice`` only forces the first round)."""
        options = dict(self.options, model=self.model, tools=self.registry.specs(), route=self.route)
        if self.steps == 0 and self.tool_choice is not None:
            options["tool_choice"] = self.tool_choice
        return options

    def elapsed_ms(self) -> float:
        """Milliseconds since the loop started."""
        return (time.perf_counter() - self.started) * 1000

    def saw_text(self) -> None:
        """Note the time of the first answer text (the loop's time to first token)."""
        if self.ttft_ms is None:
            self.ttft_ms = self.elapsed_ms()

    def run_tools(self, calls: list[dict[str, Any]], content: str = "") -> None:
        """Run the round's tool calls and append them (with any text said along) and their results.

        Records the turn and raises ToolStepLimitError when ``max_steps`` tool rounds are used up.
        """
        if self.steps >= self.max_steps:
            self._stop_at_step_limit(calls)
        self.steps += 1
        calls = [
            dict(call, id=call.get("id") or f"call_{self.steps}_{index}") for index, call in enumerate(calls)
        ]
        records = [call_record(call, self.steps, self.registry) for call in calls]
        self.records.extend(records)
        self.transcript.append({"role": "assistant", "content": content or None, "tool_calls": calls})
        self.transcript.extend(
            {"role": "tool", "tool_call_id": record["id"], "content": _tool_message(record)}
            for record in records
        )

    def _stop_at_step_limit(self, calls: list[dict[str, Any]]) -> None:
        message = (
            f"the model still asked for tools after {self.max_steps} tool round(s); "
            f"stopped (raise max_steps to allow more)"
        )
        not_run = {"step": self.steps + 1, "result": None, "error": None, "duration_ms": None}
        self.records.extend(
            {"id": call.get("id"), "type": "function", "function": call.get("function") or {}, **not_run}
            for call in calls
        )
        self.finish(status="error", error_type=STEP_LIMIT_ERROR, error_message=message, response="")
        raise ToolStepLimitError(message, prompt_id=self.prompt_id, tool_calls=self.records)

    def finish(self, **overrides: Any) -> TurnFields:
        """Record the loop's one turn: the last round's, with the loop's id, tool calls, tokens and time."""
        if self.final is not None:
            return self.final
        turn = dict(
            self.rounds[-1],
            prompt_id=self.prompt_id,
            tool_calls=self.records or None,
            prompt_tokens=_sum(r["prompt_tokens"] for r in self.rounds),
            completion_tokens=_sum(r["completion_tokens"] for r in self.rounds),
            total_tokens=_sum(r["total_tokens"] for r in self.rounds),
            latency_ms=self.elapsed_ms(),
            ttft_ms=self.ttft_ms,
            created_ms=self.created_ms,
        )
        turn.update(overrides)
        self.final = turn
        self.client.record_turn_fields(turn)
        return turn

    def failed(self, error: ProviderError) -> ProviderError:
        """Record the loop's turn as failed with the provider's reason; the error names the loop's id."""
        self.finish()
        error.prompt_id = self.prompt_id
        return error

    def response(self, answer: TrackedChatResponse) -> ToolLoopResponse:
        """The final answer as returned to the caller."""
        turn = self.finish()
        metadata = dict(
            answer.metadata, latency_ms=turn["latency_ms"], tool_calls=self.records, steps=self.steps
        )
        return ToolLoopResponse(
            content=answer.content,
            prompt_id=self.prompt_id,
            model=answer.model,
            usage=Usage(turn["prompt_tokens"], turn["completion_tokens"], turn["total_tokens"]),
            metadata=metadata,
            tool_calls=self.records,
            steps=self.steps,
            route=self.route,
        )


def _tool_message(record: dict[str, Any]) -> str:
    if record["error"] is not None:
        return json.dumps({"error": record["error"]})
    return record["result"]


def run_with_tools(
    client: TrackedChat,
    messages: list[dict[str, Any]],
    **options: Unpack[ToolRunOptions],
) -> ToolLoopResponse:
    """Run the tool loop to a final answer (not streamed) and record it as one turn."""
    loop = ToolLoop(client, messages, options)
    while True:
        try:
            answer = loop.rounds_client.create_chat_completion(loop.transcript, **loop.round_options())
        except ProviderError as exc:
            raise loop.failed(exc) from exc
        calls = answer.metadata["tool_calls"]
        if not calls:
            return loop.response(answer)
        loop.run_tools(calls, answer.content)


async def arun_with_tools(
    client: TrackedChat,
    messages: list[dict[str, Any]],
    **options: Unpack[ToolRunOptions],
) -> ToolLoopResponse:
    """The async twin of ``run_with_tools``; tools and the database work run in worker threads."""
    loop = await asyncio.to_thread(ToolLoop, client, messages, options)
    while True:
        try:
            answer = await loop.rounds_client.acreate_chat_completion(loop.transcript, **loop.round_options())
        except ProviderError as exc:
            raise await asyncio.to_thread(loop.failed, exc) from exc
        calls = answer.metadata["tool_calls"]
        if not calls:
            return await asyncio.to_thread(loop.response, answer)
        await asyncio.to_thread(loop.run_tools, calls, answer.content)
