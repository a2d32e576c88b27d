"""Streamed chat answers, sync and async: text as it arrives, the turn recorded once at the end.

The turn is recorded after the last chunk, when the stream is closed early (``cancelled``, text so far
kept) or when it fails. The work per chunk is a few attribute reads and one list append.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from types import TracebackType
from typing import Any, Self

import openai
from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall

from bilan_core.chat.provider_errors import STREAM_READ_ERRORS, map_stream_error
from bilan_core.chat.responses import ChatCall, Usage
from bilan_core.errors import NetworkError, ProviderError
from bilan_core.store.models import TurnFields

CUT_STREAM_MESSAGE = "the stream ended before the answer finished (no finish reason): the connection was cut"


class TextStream(ABC):
    """A sync stream of answer text: iterate it, or use it in a ``with`` block that closes it on leaving."""

    stream: Generator[str, None, None]

    def __iter__(self) -> Iterator[str]:
        return self.stream

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None:
        """Stop reading and record what was received."""


class AsyncTextStream(ABC):
    """The async twin of ``TextStream``: ``async for`` over it, or ``async with`` to close it on leaving."""

    stream: AsyncGenerator[str, None]

    def __aiter__(self) -> AsyncIterator[str]:
        return self.stream

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.aclose()

    @abstractmethod
    async def aclose(self) -> None:
        """Stop reading and record what was received."""


class _StreamState:
    """What sync and async streamed answers share: the per-chunk bookkeeping and the final turn."""

    def __init__(self, call: ChatCall) -> None:
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
        # Runs once per chunk: attribute reads and one append for a text chunk, nothing else.
        if chunk.usage is not None:
            self.usage = Usage.from_sdk(chunk.usage)
        choices = chunk.choices
        if not choices:
            return None
        choice = choices[0]
        delta = choice.delta
        text = delta.content
        if text:
            self._parts.append(text)
            if self.ttft_ms is None:
                self.ttft_ms = self._call.elapsed_ms()
        if choice.finish_reason:
            self.finish_reason = choice.finish_reason
        if delta.tool_calls:
            self._merge_tool_calls(delta.tool_calls)
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

    def _final_turn(self, status: str, error: ProviderError | None = None) -> TurnFields | None:
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


class StreamingChatResponse(_StreamState, TextStream):
    """A streamed answer: iterate ``stream`` (or the object) for text; the turn is recorded at the end."""

    def __init__(
        self, call: ChatCall, raw: openai.Stream[ChatCompletionChunk], record: Callable[[TurnFields], None]
    ) -> None:
        super().__init__(call)
        self._raw = raw
        self._record = record
        self.stream = self._iterate()

    def _iterate(self) -> Generator[str, None, None]:
        take = self._take
        try:
            for chunk in self._raw:
                text = take(chunk)
                if text:
                    yield text
        except GeneratorExit:
            self._end("cancelled")
            raise
        except STREAM_READ_ERRORS as exc:
            raise self._fail(map_stream_error(exc, prompt_id=self.prompt_id)) from exc
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


class AsyncStreamingChatResponse(_StreamState, AsyncTextStream):
    """The async twin of ``StreamingChatResponse``: ``async for`` over it; ``aclose()`` stops early."""

    def __init__(
        self,
        call: ChatCall,
        raw: openai.AsyncStream[ChatCompletionChunk],
        record: Callable[[TurnFields], None],
    ) -> None:
        super().__init__(call)
        self._raw = raw
        self._record = record
        self.stream = self._iterate()

    async def _iterate(self) -> AsyncGenerator[str, None]:
        take = self._take
        try:
            async for chunk in self._raw:
                text = take(chunk)
                if text:
                    yield text
        except (GeneratorExit, asyncio.CancelledError):
            self._end_now("cancelled")
            raise
        except STREAM_READ_ERRORS as exc:
            raise await self._fail(map_stream_error(exc, prompt_id=self.prompt_id)) from exc
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
        await self.stream.aclose()
        await self._raw.close()
        self._end_now("cancelled")

    cancel = aclose
