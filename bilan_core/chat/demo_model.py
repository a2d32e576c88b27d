"""The offline demo model ``bilan-demo``: an in-process OpenAI-compatible endpoint behind the real SDK.

Used only when neither ``OPENAI_API_KEY`` nor ``OPENAI_BASE_URL`` is set. Answers are short and say
they come from the demo model; the system prompt and the temperature show in them (``demo_style``;
deterministic at temperature 0 or unset). They stream word by word, ``BILAN_DEMO_STREAM_DELAY`` seconds
apart, report usage and finish reasons, and call declared tools (weather → a weather tool, arithmetic →
a calculator tool).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2

from bilan_core.chat.demo_style import styled, warmth
from bilan_core.chat.tools import ToolError, calculator
from bilan_core.chat.validation import last_user_text
from bilan_core.settings import DEMO_MODEL

DEMO_BASE_URL = "http://bilan-demo.invalid/v1"
SIGNATURE = "(Answered by bilan-demo, the offline demo model.)"
SETUP_HINT = "Set OPENAI_API_KEY or OPENAI_BASE_URL to talk to a real model."
ARITHMETIC = re.compile(r"[\d(][\d\s.+\-*/%^()]*[\d)]")
HAS_OPERATOR = re.compile(r"[\d)]\s*[-+*/%^]+\s*[\d(]")
CITY = re.compile(r"\b(?:in|for|at)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)")
GREETING = re.compile(r"^\s*(hi|hello|hey|bonjour|good (morning|afternoon|evening))\b", re.IGNORECASE)
GENERIC_ANSWERS = (
    "I am bilan-demo, a small offline model built into Bilan, so I cannot really answer “{topic}”. "
    "Rate this answer with 👍 or 👎 anyway: Bilan ties every vote to the exact prompt, model, "
    "parameters, tokens and latency. {hint}",
    "Good question about “{topic}”. As the offline demo model I only give canned answers, but this "
    "one is real enough to vote on, comment and see in the trust analytics. {hint}",
    "Here is what bilan-demo, the offline demo model, says to “{topic}”: your request went through "
    "the real OpenAI SDK to an in-process model, and Bilan recorded the turn with its tokens and "
    "timing. {hint}",
)


@dataclass(frozen=True)
class DemoReply:
    """What the demo model answers to one request."""

    text: str
    tool_call: dict[str, Any] | None
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def usage(self) -> dict[str, int]:
        """The usage block of the answer."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def reply_to(body: dict[str, Any]) -> DemoReply:
    """The demo model's reply to a chat completion request body."""
    messages = body.get("messages") or []
    prompt_tokens = sum(3 + len(str(m.get("content") or "").split()) for m in messages)
    tool_call = choose_tool_call(messages, body.get("tools") or [], body.get("tool_choice"))
    if tool_call is not None:
        return DemoReply(
            "", tool_call, "tool_calls", prompt_tokens, 3 + len(tool_call["function"]["arguments"]) // 4
        )
    heat = warmth(body.get("temperature"))
    rng = random.Random(body["seed"]) if isinstance(body.get("seed"), int) else random.Random()
    text = styled(answer_text(messages, rng=rng if heat > 0 else None), messages, heat=heat, rng=rng)
    words = text.split(" ")
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    finish_reason = "stop"
    if isinstance(limit, int) and 0 < limit < len(words):
        words, finish_reason = words[:limit], "length"
    return DemoReply(" ".join(words), None, finish_reason, prompt_tokens, len(words))


def answer_text(messages: list[dict[str, Any]], *, rng: random.Random | None = None) -> str:
    """A short text answer to the conversation: deterministic without ``rng`` (temperature 0 or unset)."""
    if messages and messages[-1].get("role") == "tool":
        return tool_result_answer(messages)
    prompt = last_user_text(messages) or ""
    expression = find_arithmetic(prompt)
    if expression is not None:
        return f"{expression} = {_format_number(evaluate_arithmetic(expression))}. {SIGNATURE}"
    if GREETING.match(prompt):
        return f"Hello! I am bilan-demo, the offline demo model. Ask me anything, then rate me. {SETUP_HINT}"
    topic = " ".join(prompt.split()[:12]) or "your message"
    digest = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
    choice = (digest + (rng.randrange(len(GENERIC_ANSWERS)) if rng else 0)) % len(GENERIC_ANSWERS)
    return GENERIC_ANSWERS[choice].format(topic=topic, hint=SETUP_HINT)


def tool_result_answer(messages: list[dict[str, Any]]) -> str:
    """An answer that uses the result of the tool call that the last message answers."""
    result = messages[-1]
    name = _called_tool_name(messages, result.get("tool_call_id")) or "the tool"
    content = str(result.get("content") or "").strip() or "nothing"
    return f"Using {name}: {content}. {SIGNATURE}"


def choose_tool_call(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]], tool_choice: object
) -> dict[str, Any] | None:
    """The tool call the demo model makes, or None when it answers with text."""
    names = [tool["function"]["name"] for tool in tools if isinstance(tool.get("function"), dict)]
    if not names or tool_choice == "none" or (messages and messages[-1].get("role") == "tool"):
        return None
    prompt = last_user_text(messages) or ""
    if isinstance(tool_choice, dict):
        name = tool_choice.get("function", {}).get("name")
        return _tool_call(name, _arguments_for(name, prompt)) if name in names else None
    for name in names:
        arguments = _arguments_for(name, prompt)
        if arguments is not None:
            return _tool_call(name, arguments)
    if tool_choice == "required":
        return _tool_call(names[0], {"query": prompt})
    return None


def _arguments_for(name: str, prompt: str) -> dict[str, Any] | None:
    lowered = name.lower()
    if "weather" in lowered and "weather" in prompt.lower():
        match = CITY.search(prompt)
        return {"city": match.group(1) if match else "London"}
    expression = find_arithmetic(prompt)
    if ("calc" in lowered or "math" in lowered) and expression is not None:
        return {"expression": expression}
    return None


def _tool_call(name: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
    digest = hashlib.sha256(f"{name}{arguments}".encode()).hexdigest()[:16]
    return {
        "id": f"call_demo_{digest}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments or {})},
    }


def find_arithmetic(text: str) -> str | None:
    """The first arithmetic expression in ``text`` that evaluates, or None."""
    for match in ARITHMETIC.finditer(text):
        expression = " ".join(match.group(0).replace("^", "**").split())
        if HAS_OPERATOR.search(expression) and evaluate_arithmetic(expression) is not None:
            return expression
    return None


def evaluate_arithmetic(expression: str) -> float | None:
    """The value of a plain arithmetic expression (the built-in calculator's rules), or None."""
    try:
        value: float = calculator(expression)["result"]
    except ToolError:
        return None
    return value


def _format_number(value: float | None) -> str:
    if value is None:
        return "?"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6g}"


def _called_tool_name(messages: list[dict[str, Any]], tool_call_id: object) -> str | None:
    for message in reversed(messages):
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and call.get("id") == tool_call_id:
                return call.get("function", {}).get("name")
    return None


def completion_body(reply: DemoReply, completion_id: str) -> dict[str, Any]:
    """The reply as a non-streamed ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": None if reply.tool_call else reply.text}
    if reply.tool_call:
        message["tool_calls"] = [reply.tool_call]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": DEMO_MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason, "logprobs": None}],
        "usage": reply.usage,
    }


def stream_events(reply: DemoReply, completion_id: str, *, include_usage: bool) -> Iterator[bytes]:
    """The reply as server-sent events, word by word, ending with ``[DONE]``."""

    def event(delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()),
                "model": DEMO_MODEL, "choices": [choice], "usage": None}  # fmt: skip

    events = [event({"role": "assistant", "content": ""}, None)]
    if reply.tool_call:
        events.append(event({"tool_calls": [{"index": 0, **reply.tool_call}]}, None))
    words = reply.text.split(" ") if reply.text else []
    events += [event({"content": word if i == 0 else " " + word}, None) for i, word in enumerate(words)]
    events.append(event({}, reply.finish_reason))
    if include_usage:
        events.append({**event({}, None), "choices": [], "usage": reply.usage})
    for item in events:
        yield b"data: " + json.dumps(item).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


def handle(request: httpx2.Request) -> httpx2.Response:
    """Answer one request to the demo endpoint (``/models`` or ``/chat/completions``)."""
    path = request.url.path.rstrip("/")
    if request.method == "GET" and path.endswith("/models"):
        return httpx2.Response(200, json={"object": "list", "data": [_model_entry()]})
    if request.method != "POST" or not path.endswith("/chat/completions"):
        return _error(404, f"The demo model has no endpoint {request.method} {path}.", "not_found")
    try:
        body = json.loads(request.content or b"null")
    except json.JSONDecodeError:
        return _error(400, "The request body is not valid JSON.", "invalid_json")
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return _error(400, "The request needs a JSON object with a 'messages' list.", "invalid_request")
    if body.get("model") != DEMO_MODEL:
        message = (
            f"The model `{body.get('model')}` does not exist offline: only {DEMO_MODEL} answers. {SETUP_HINT}"
        )
        return _error(404, message, "model_not_found")
    reply = reply_to(body)
    completion_id = "chatcmpl-demo-" + hashlib.sha256(request.content).hexdigest()[:16]
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return httpx2.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=stream_events(reply, completion_id, include_usage=include_usage),
        )
    return httpx2.Response(200, json=completion_body(reply, completion_id))


def _model_entry() -> dict[str, Any]:
    return {"id": DEMO_MODEL, "object": "model", "created": 0, "owned_by": "bilan"}


def _error(status: int, message: str, code: str) -> httpx2.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    return httpx2.Response(status, json=body)


class DemoTransport(httpx2.BaseTransport):
    """A synchronous httpx2 transport answered by the demo model, in process, streaming ``delay`` s apart."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Answer the request without any network."""
        request.read()
        response = handle(request)
        if self.delay <= 0 or not _is_stream(response):
            return response
        return httpx2.Response(
            response.status_code, headers=response.headers, content=_paced(response.iter_bytes(), self.delay)
        )


class AsyncDemoTransport(httpx2.AsyncBaseTransport):
    """The async twin of ``DemoTransport``."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Answer the request without any network."""
        await request.aread()
        response = handle(request)
        if not _is_stream(response):
            return response
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            content=_as_async(response.iter_bytes(), self.delay),
        )


def _is_stream(response: httpx2.Response) -> bool:
    return response.headers.get("content-type", "").startswith("text/event-stream")


def _paced(chunks: Iterator[bytes], delay: float) -> Iterator[bytes]:
    for position, chunk in enumerate(chunks):
        if position:
            time.sleep(delay)
        yield chunk


async def _as_async(chunks: Iterator[bytes], delay: float) -> AsyncIterator[bytes]:
    for position, chunk in enumerate(chunks):
        if position and delay > 0:
            await asyncio.sleep(delay)
        yield chunk
