"""Tracked OpenAI chat calls: every call becomes one recorded turn (request, answer, tokens, timing, error).

Retries and back-off are the openai SDK's own (``max_retries``, ``timeout`` from the settings). Streamed
answers are recorded once, after the last chunk (or when closed early, or when they fail): the work done
per chunk is a few attribute reads and one list append.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx2
import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall

from bilan_core.chat.demo_model import DEMO_BASE_URL, AsyncDemoTransport, DemoTransport
from bilan_core.chat.provider_errors import map_provider_error
from bilan_core.chat.routing import AUTO_MODEL, RouteDecision
from bilan_core.clock import now_ms
from bilan_core.errors import NetworkError, ProviderError
from bilan_core.settings import BilanSettings
from bilan_core.store.models import Turn

ROLES = ("system", "developer", "user", "assistant", "tool")
RESERVED_OPTIONS = frozenset({"model", "messages", "stream", "stream_options"})
TRANSPORT_OPTIONS = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})
# A base URL without a key (a local server such as Ollama): the SDK insists on some key text.
KEYLESS_PLACEHOLDER = "no-key"
CUT_STREAM_MESSAGE = "the stream ended before the answer finished (no finish reason): the connection was cut"
MODEL_LIST_TIMEOUT = 10.0
MAX_LABEL_LENGTH = 200  # model, conversation id, variant and user id columns hold 200 characters


@dataclass(frozen=True)
class Usage:
    """Token counts the provider reported (None when it reported none)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None

    @classmethod
    def from_sdk(cls, usage: Any) -> Usage:
        """Token counts from an openai ``CompletionUsage`` (or None)."""
        if usage is None:
            return cls()
        return cls(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)


@dataclass
class TrackedChatResponse:
    """A finished chat answer and the ``prompt_id`` to vote on it."""

    content: str
    prompt_id: str
    model: str
    usage: Usage
    metadata: dict[str, Any]


@dataclass
class _Call:
    """One validated request and what the turn needs to know about it."""

    prompt_id: str
    request: dict[str, Any]
    messages: list[dict[str, Any]]
    parameters: dict[str, Any]
    conversation_id: str | None
    user_id: str
    team_session: str | None
    variant: str | None
    route: dict[str, Any] | None
    provider: str
    demo: bool
    created_ms: int
    started: float

    @property
    def model(self) -> str:
        return self.request["model"]

    def elapsed_ms(self) -> float:
        """Milliseconds since the call started."""
        return (time.perf_counter() - self.started) * 1000

    def metadata(self) -> dict[str, Any]:
        """What every response's ``metadata`` starts with."""
        return {"provider": self.provider, "demo": self.demo, "created_ms": self.created_ms}

    def turn(
        self,
        *,
        response: str,
        finish_reason: str | None,
        status: str,
        usage: Usage,
        tool_calls: list[dict[str, Any]],
        ttft_ms: float | None,
        latency_ms: float,
        error: ProviderError | None = None,
    ) -> Turn:
        """The turn to record for this call."""
        return Turn(
            prompt_id=self.prompt_id,
            conversation_id=self.conversation_id,
            user_id=self.user_id,
            team_session=self.team_session,
            model=self.model,
            provider=self.provider,
            prompt_version=self.variant,
            messages=_plain(self.messages),
            parameters=_plain(self.parameters),
            tools=_plain(self.request.get("tools")),
            tool_calls=tool_calls or None,
            route=_plain(self.route),
            prompt_text=last_user_text(self.messages),
            response=_storable(response),
            finish_reason=finish_reason,
            status=status,
            error_type=error.error_type if error else None,
            error_message=_storable(error.message) if error else None,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
            ttft_ms=ttft_ms,
            latency_ms=latency_ms,
            created_ms=self.created_ms,
        )


class _StreamState:
    """What sync and async streamed answers share: the per-chunk bookkeeping and the final turn."""

    def __init__(self, call: _Call) -> None:
        self.prompt_id = call.prompt_id
        self.model = call.model
        self.metadata = call.metadata()
        self.usage = Usage()
        self.finish_reason: str | None = None
        self.status = "streaming"
        self.ttft_ms: float | None = None
        self.latency_ms: float | None = None
        self.error: ProviderError | None = None
        self._call = call
        self._parts: list[str] = []
        self._tool_calls: dict[int, dict[str, Any]] = {}

    @property
    def content(self) -> str:
        """The answer text received so far."""
        return "".join(self._parts)

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """The tool calls received so far, arguments joined."""
        return [self._tool_calls[index] for index in sorted(self._tool_calls)]

    def _take(self, chunk: ChatCompletionChunk) -> str | None:
        if chunk.usage is not None:
            self.usage = Usage.from_sdk(chunk.usage)
        if not chunk.choices:
            return None
        choice = chunk.choices[0]
        if choice.finish_reason:
            self.finish_reason = choice.finish_reason
        delta = choice.delta
        if delta.tool_calls:
            self._merge_tool_calls(delta.tool_calls)
        text = delta.content
        if text:
            if self.ttft_ms is None:
                self.ttft_ms = self._call.elapsed_ms()
            self._parts.append(text)
        return text

    def _merge_tool_calls(self, deltas: list[ChoiceDeltaToolCall]) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = self._call.elapsed_ms()
        for delta in deltas:
            call = self._tool_calls.setdefault(
                delta.index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
            )
            if delta.id:
                call["id"] = delta.id
            if delta.function is not None:
                call["function"]["name"] += delta.function.name or ""
                call["function"]["arguments"] += delta.function.arguments or ""

    def _final_turn(self, status: str, error: ProviderError | None = None) -> Turn | None:
        """The turn to record, or None when the answer was already recorded."""
        if self.status != "streaming":
            return None
        self.status = status
        self.error = error
        self.latency_ms = self._call.elapsed_ms()
        self.metadata.update(
            finish_reason=self.finish_reason,
            latency_ms=self.latency_ms,
            ttft_ms=self.ttft_ms,
            status=status,
            tool_calls=self.tool_calls,
        )
        return self._call.turn(
            response=self.content,
            finish_reason=self.finish_reason,
            status=status,
            usage=self.usage,
            tool_calls=self.tool_calls,
            ttft_ms=self.ttft_ms,
            latency_ms=self.latency_ms,
            error=error,
        )


class StreamingChatResponse(_StreamState):
    """A streamed answer: iterate ``stream`` (or the object) for text; the turn is recorded at the end."""

    def __init__(
        self, call: _Call, raw: openai.Stream[ChatCompletionChunk], record: Callable[[Turn], None]
    ) -> None:
        super().__init__(call)
        self._raw = raw
        self._record = record
        self.stream: Iterator[str] = self._iterate()

    def __iter__(self) -> Iterator[str]:
        return self.stream

    def __enter__(self) -> StreamingChatResponse:
        return self

    def __exit__(self, *exc_info: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _iterate(self) -> Iterator[str]:
        take = self._take
        try:
            for chunk in self._raw:
                text = take(chunk)
                if text:
                    yield text
        except GeneratorExit:
            self._end("cancelled")
            raise
        except openai.OpenAIError as exc:
            raise self._fail(map_provider_error(exc, prompt_id=self.prompt_id)) from exc
        finally:
            self._raw.close()
        if self.finish_reason is None:
            raise self._fail(NetworkError(CUT_STREAM_MESSAGE, prompt_id=self.prompt_id))
        self._end("ok")

    def _end(self, status: str, error: ProviderError | None = None) -> None:
        turn = self._final_turn(status, error)
        if turn is not None:
            self._record(turn)

    def _fail(self, error: ProviderError) -> ProviderError:
        self._end("error", error)
        return error

    def close(self) -> None:
        """Stop reading; an unfinished answer is recorded as ``cancelled`` with the text so far."""
        self.stream.close()
        self._raw.close()
        self._end("cancelled")

    cancel = close


class AsyncStreamingChatResponse(_StreamState):
    """The async twin of ``StreamingChatResponse``: ``async for`` over it; ``aclose()`` stops early."""

    def __init__(
        self, call: _Call, raw: openai.AsyncStream[ChatCompletionChunk], record: Callable[[Turn], None]
    ) -> None:
        super().__init__(call)
        self._raw = raw
        self._record = record
        self.stream: AsyncIterator[str] = self._iterate()

    def __aiter__(self) -> AsyncIterator[str]:
        return self.stream

    async def __aenter__(self) -> AsyncStreamingChatResponse:
        return self

    async def __aexit__(self, *exc_info: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.aclose()

    async def _iterate(self) -> AsyncIterator[str]:
        take = self._take
        try:
            async for chunk in self._raw:
                text = take(chunk)
                if text:
                    yield text
        except (GeneratorExit, asyncio.CancelledError):
            self._end_now("cancelled")
            raise
        except openai.OpenAIError as exc:
            raise await self._fail(map_provider_error(exc, prompt_id=self.prompt_id)) from exc
        finally:
            await self._raw.close()
        if self.finish_reason is None:
            raise await self._fail(NetworkError(CUT_STREAM_MESSAGE, prompt_id=self.prompt_id))
        await self._end("ok")

    async def _end(self, status: str, error: ProviderError | None = None) -> None:
        turn = self._final_turn(status, error)
        if turn is not None:
            await asyncio.to_thread(self._record, turn)

    def _end_now(self, status: str) -> None:
        # Cancellation must not await: record on this thread.
        turn = self._final_turn(status)
        if turn is not None:
            self._record(turn)

    async def _fail(self, error: ProviderError) -> ProviderError:
        await self._end("error", error)
        return error

    async def aclose(self) -> None:
        """Stop reading; an unfinished answer is recorded as ``cancelled`` with the text so far."""
        await self.stream.aclose()  # type: ignore[attr-defined]
        await self._raw.close()
        self._end_now("cancelled")

    cancel = aclose


class ChatClients:
    """The OpenAI clients one Bilan client and its per-visitor copies share, made on first use."""

    def __init__(self, settings: BilanSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._sync: openai.OpenAI | None = None
        # Async connections belong to one event loop, so there is one async client per loop.
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI] = (
            weakref.WeakKeyDictionary()
        )

    def sync(self) -> openai.OpenAI:
        """The synchronous client."""
        with self._lock:
            if self._sync is None:
                self._sync = make_sync_client(self._settings)
            return self._sync

    def for_running_loop(self) -> openai.AsyncOpenAI:
        """The async client of the running event loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._async.get(loop)
            if client is None:
                client = self._async[loop] = make_async_client(self._settings)
            return client

    def close(self) -> None:
        """Close the sync client now and the async ones whose loop is still running."""
        with self._lock:
            sync, self._sync = self._sync, None
            async_clients, self._async = dict(self._async), weakref.WeakKeyDictionary()
        if sync is not None:
            sync.close()
        for loop, client in async_clients.items():
            if loop.is_running():
                asyncio.run_coroutine_threadsafe(client.close(), loop)


def make_sync_client(settings: BilanSettings) -> openai.OpenAI:
    """An openai client for the settings: the in-process demo model or the configured endpoint."""
    if settings.uses_demo_model:
        return openai.OpenAI(
            api_key="bilan-demo",
            base_url=DEMO_BASE_URL,
            max_retries=0,
            http_client=httpx2.Client(transport=DemoTransport()),
        )
    return openai.OpenAI(
        api_key=_api_key(settings),
        base_url=settings.openai_base_url,
        max_retries=settings.max_retries,
        timeout=settings.timeout,
    )


def make_async_client(settings: BilanSettings) -> openai.AsyncOpenAI:
    """The async twin of ``make_sync_client``."""
    if settings.uses_demo_model:
        return openai.AsyncOpenAI(
            api_key="bilan-demo",
            base_url=DEMO_BASE_URL,
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=AsyncDemoTransport()),
        )
    return openai.AsyncOpenAI(
        api_key=_api_key(settings),
        base_url=settings.openai_base_url,
        max_retries=settings.max_retries,
        timeout=settings.timeout,
    )


def _api_key(settings: BilanSettings) -> str:
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    return key or KEYLESS_PLACEHOLDER


class TrackedChat:
    """Mixin for ``Bilan``: tracked OpenAI chat calls, sync and async, streamed or not."""

    settings: BilanSettings
    user_id: str
    team_session: str | None

    if TYPE_CHECKING:

        def record_turn(self, turn: Turn) -> None:
            """Keep a finished turn (``Bilan`` implements it)."""

        def route_model(self) -> RouteDecision:
            """The routing policy's choice of model now (``Bilan`` implements it)."""

    def __copy__(self) -> TrackedChat:
        self._chat_clients()  # made before copying, so every per-visitor copy shares the connections
        twin = type(self).__new__(type(self))
        twin.__dict__.update(self.__dict__)
        return twin

    def _chat_clients(self) -> ChatClients:
        holder = self.__dict__.get("_chat_holder")
        if holder is None:
            holder = self.__dict__.setdefault("_chat_holder", ChatClients(self.settings))
        return holder

    def close_chat_clients(self) -> None:
        """Close the OpenAI clients this Bilan client opened."""
        holder = self.__dict__.get("_chat_holder")
        if holder is not None:
            holder.close()

    def list_models(self) -> list[str]:
        """The models the endpoint's ``/v1/models`` lists, or the configured list when it does not answer."""
        client = self._chat_clients().sync()
        try:
            page = client.with_options(max_retries=0, timeout=min(self.settings.timeout, MODEL_LIST_TIMEOUT))
            names = sorted(model.id for model in page.models.list().data)
        except openai.OpenAIError:
            names = []
        return names or list(self.settings.models)

    def create_chat_completion(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        conversation_id: str | None = None,
        variant: str | None = None,
        user_id: str | None = None,
        route: dict[str, Any] | None = None,
        **extra: Any,
    ) -> TrackedChatResponse:
        """Ask the model for an answer and record the turn; returns the text and its ``prompt_id``."""
        call = self._prepare_call(
            messages,
            model,
            temperature,
            max_tokens,
            tools,
            tool_choice,
            conversation_id,
            variant,
            user_id,
            route,
            extra,
        )
        try:
            completion = self._chat_clients().sync().chat.completions.create(**call.request)
        except openai.OpenAIError as exc:
            raise self._record_failure(call, exc) from exc
        response, turn = _completed(call, completion)
        self.record_turn(turn)
        return response

    async def acreate_chat_completion(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        conversation_id: str | None = None,
        variant: str | None = None,
        user_id: str | None = None,
        route: dict[str, Any] | None = None,
        **extra: Any,
    ) -> TrackedChatResponse:
        """The async twin of ``create_chat_completion``."""
        if model == AUTO_MODEL:
            model, route = await asyncio.to_thread(self._routed, route)
        call = self._prepare_call(
            messages,
            model,
            temperature,
            max_tokens,
            tools,
            tool_choice,
            conversation_id,
            variant,
            user_id,
            route,
            extra,
        )
        try:
            completion = await self._chat_clients().for_running_loop().chat.completions.create(**call.request)
        except openai.OpenAIError as exc:
            raise await asyncio.to_thread(self._record_failure, call, exc) from exc
        response, turn = _completed(call, completion)
        await asyncio.to_thread(self.record_turn, turn)
        return response

    def create_streaming_chat(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        conversation_id: str | None = None,
        variant: str | None = None,
        user_id: str | None = None,
        route: dict[str, Any] | None = None,
        **extra: Any,
    ) -> StreamingChatResponse:
        """Start a streamed answer; iterate its ``stream`` for text. The turn is recorded when it ends."""
        call = self._prepare_call(
            messages,
            model,
            temperature,
            max_tokens,
            tools,
            tool_choice,
            conversation_id,
            variant,
            user_id,
            route,
            extra,
        )
        call.request.update(stream=True, stream_options={"include_usage": True})
        try:
            raw = self._chat_clients().sync().chat.completions.create(**call.request)
        except openai.OpenAIError as exc:
            raise self._record_failure(call, exc) from exc
        return StreamingChatResponse(call, raw, self.record_turn)

    async def acreate_streaming_chat(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        conversation_id: str | None = None,
        variant: str | None = None,
        user_id: str | None = None,
        route: dict[str, Any] | None = None,
        **extra: Any,
    ) -> AsyncStreamingChatResponse:
        """The async twin of ``create_streaming_chat``: ``async for`` over the result."""
        if model == AUTO_MODEL:
            model, route = await asyncio.to_thread(self._routed, route)
        call = self._prepare_call(
            messages,
            model,
            temperature,
            max_tokens,
            tools,
            tool_choice,
            conversation_id,
            variant,
            user_id,
            route,
            extra,
        )
        call.request.update(stream=True, stream_options={"include_usage": True})
        try:
            raw = await self._chat_clients().for_running_loop().chat.completions.create(**call.request)
        except openai.OpenAIError as exc:
            raise await asyncio.to_thread(self._record_failure, call, exc) from exc
        return AsyncStreamingChatResponse(call, raw, self.record_turn)

    def _prepare_call(
        self,
        messages: object,
        model: str | None,
        temperature: float | None,
        max_tokens: int | None,
        tools: list[dict[str, Any]] | None,
        tool_choice: str | dict[str, Any] | None,
        conversation_id: str | None,
        variant: str | None,
        user_id: str | None,
        route: dict[str, Any] | None,
        extra: dict[str, Any],
    ) -> _Call:
        checked = validate_messages(messages)
        if model == AUTO_MODEL:
            model, route = self._routed(route)
        validate_options(
            model=model,
            temperature=temperature,
            max_tokens=max_tokens,
            tools=tools,
            tool_choice=tool_choice,
            conversation_id=conversation_id,
            variant=variant,
            user_id=user_id,
            route=route,
            extra=extra,
        )
        request: dict[str, Any] = {"model": model or self.settings.chat_model, "messages": checked}
        given = {
            "temperature": temperature,
            "max_tokens": max_tokens,
            "tools": tools,
            "tool_choice": tool_choice,
        }
        request.update({name: value for name, value in given.items() if value is not None}, **extra)
        parameters = {name: given[name] for name in ("temperature", "max_tokens") if given[name] is not None}
        parameters.update({name: value for name, value in extra.items() if name not in TRANSPORT_OPTIONS})
        return _Call(
            prompt_id=str(uuid.uuid4()),
            request=request,
            messages=checked,
            parameters=parameters,
            conversation_id=conversation_id,
            user_id=user_id or self.user_id,
            team_session=self.team_session,
            variant=variant,
            route=route,
            provider=self.settings.provider_host,
            demo=self.settings.uses_demo_model,
            created_ms=now_ms(),
            started=time.perf_counter(),
        )

    def _routed(self, route: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        """The model the routing policy picks for ``model="auto"``, and its decision for ``turns.route``."""
        if route is not None:
            raise ValueError("model='auto' stores its own routing decision; do not pass route= with it")
        decision = self.route_model()
        return decision.model, decision.as_dict()

    def _record_failure(self, call: _Call, exc: openai.OpenAIError) -> ProviderError:
        error = map_provider_error(exc, prompt_id=call.prompt_id)
        self.record_turn(
            call.turn(
                response="",
                finish_reason=None,
                status="error",
                usage=Usage(),
                tool_calls=[],
                ttft_ms=None,
                latency_ms=call.elapsed_ms(),
                error=error,
            )
        )
        return error


def _completed(call: _Call, completion: ChatCompletion) -> tuple[TrackedChatResponse, Turn]:
    latency_ms = call.elapsed_ms()
    choice = completion.choices[0] if completion.choices else None
    content = (choice.message.content if choice else None) or ""
    finish_reason = choice.finish_reason if choice else None
    tool_calls = (
        [tc.model_dump(exclude_none=True) for tc in (choice.message.tool_calls or [])] if choice else []
    )
    usage = Usage.from_sdk(completion.usage)
    metadata = call.metadata() | {
        "finish_reason": finish_reason,
        "latency_ms": latency_ms,
        "tool_calls": tool_calls,
    }
    response = TrackedChatResponse(
        content=content, prompt_id=call.prompt_id, model=call.model, usage=usage, metadata=metadata
    )
    turn = call.turn(
        response=content,
        finish_reason=finish_reason,
        status="ok",
        usage=usage,
        tool_calls=tool_calls,
        ttft_ms=None,
        latency_ms=latency_ms,
    )
    return response, turn


def validate_messages(messages: object) -> list[dict[str, Any]]:
    """Return ``messages`` if it is a non-empty list of ``{role, content}`` dicts, else raise ValueError."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ValueError(
                f"messages[{index}] must be a dict with 'role' and 'content', got {type(message).__name__}"
            )
        role = message.get("role")
        if role not in ROLES:
            raise ValueError(f"messages[{index}] has unknown role {role!r}; use one of {', '.join(ROLES)}")
        if "content" not in message:
            raise ValueError(f"messages[{index}] ({role}) has no 'content'")
        content = message["content"]
        if content is None and not (role == "assistant" and message.get("tool_calls")):
            raise ValueError(f"messages[{index}] ({role}) has empty content (None)")
        if content is not None and not isinstance(content, str | list):
            raise ValueError(
                f"messages[{index}] content must be text or a list of parts, got {type(content).__name__}"
            )
        if _contains_nul(message):  # PostgreSQL stores no NUL: refuse before the model is asked
            raise ValueError(f"messages[{index}] contains a NUL character (\\x00), which cannot be stored")
    return messages


def _storable(text: str) -> str:
    """Provider text as a database can keep it: a NUL (refused by PostgreSQL) becomes U+FFFD."""
    return text.replace("\x00", "\ufffd")


def _contains_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def validate_options(
    *,
    model: object,
    temperature: object,
    max_tokens: object,
    tools: object,
    tool_choice: object,
    conversation_id: object,
    variant: object,
    user_id: object,
    route: object,
    extra: dict[str, Any],
) -> None:
    """Raise ValueError naming the first chat option that is out of range or of the wrong type."""
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2
    ):
        raise ValueError(f"temperature must be a number from 0 to 2, got {temperature!r}")
    if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
        raise ValueError(f"max_tokens must be a whole number of at least 1, got {max_tokens!r}")
    for name, value in (
        ("model", model),
        ("conversation_id", conversation_id),
        ("variant", variant),
        ("user_id", user_id),
    ):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        if isinstance(value, str) and len(value) > MAX_LABEL_LENGTH:
            raise ValueError(f"{name} is {len(value):,} characters; the limit is {MAX_LABEL_LENGTH}")
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(f"{name} contains a NUL character (\\x00), which cannot be stored")
    if tools is not None and (
        not isinstance(tools, list) or not all(isinstance(tool, dict) for tool in tools)
    ):
        raise ValueError("tools must be a list of tool definition dicts")
    if tool_choice is not None and not isinstance(tool_choice, str | dict):
        raise ValueError(f"tool_choice must be 'auto', 'none', 'required' or a dict, got {tool_choice!r}")
    if route is not None and not isinstance(route, dict):
        raise ValueError(f"route must be a dict (the routing decision), got {type(route).__name__}")
    reserved = RESERVED_OPTIONS & set(extra)
    if reserved:
        raise ValueError(f"{', '.join(sorted(reserved))} cannot be passed as extra options; Bilan sets them")


def last_user_text(messages: list[dict[str, Any]]) -> str | None:
    """The text of the last user message (text parts joined), or None."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(part.get("text", "") for part in content if isinstance(part, dict)) or None
    return None


def _plain(value: Any) -> Any:
    """``value`` as plain JSON data (SDK objects become dicts), ready for a JSON column."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=_to_plain))


def _to_plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(exclude_none=True) if callable(dump) else str(value)
