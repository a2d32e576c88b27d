"""The streamed tool loops, sync and async: tool rounds run between streamed model calls, and the final
answer's text streams to the caller. Recorded as one turn, like ``tool_loop.run_with_tools``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
from typing import Any, Unpack

from bilan_core.chat.options import ToolRunOptions
from bilan_core.chat.responses import Usage
from bilan_core.chat.streaming import (
    AsyncStreamingChatResponse,
    AsyncTextStream,
    StreamingChatResponse,
    TextStream,
)
from bilan_core.chat.tool_loop import ToolLoop
from bilan_core.chat.tracked import TrackedChat
from bilan_core.errors import ProviderError


class _ToolStreamState:
    """What the sync and async streamed loops share: the loop, the current round and the figures."""

    def __init__(
        self, loop: ToolLoop, first_round: StreamingChatResponse | AsyncStreamingChatResponse
    ) -> None:
        self._loop = loop
        self._round = first_round
        self.prompt_id = loop.prompt_id
        self.route = loop.route

    @property
    def model(self) -> str:
        """The model that answers."""
        return self._round.model

    @property
    def content(self) -> str:
        """The final answer's text so far."""
        return self._round.content

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """The tool calls made so far, with their results or errors."""
        return self._loop.records

    @property
    def steps(self) -> int:
        """How many tool rounds ran."""
        return self._loop.steps

    @property
    def status(self) -> str:
        """``streaming`` until the turn is recorded, then its status (``ok``, ``cancelled``, ``error``)."""
        final = self._loop.final
        return "streaming" if final is None else str(final["status"])

    @property
    def usage(self) -> Usage:
        """Tokens over every round, once the turn is recorded."""
        final = self._loop.final
        if final is None:
            return Usage()
        return Usage(final["prompt_tokens"], final["completion_tokens"], final["total_tokens"])


class ToolStreamingResponse(_ToolStreamState, TextStream):
    """A streamed tool loop: iterate ``stream`` for the answer's text; tool rounds run in between.

    The turn is recorded when the stream ends, fails or is closed (``cancelled``, text so far kept).
    ``prompt_id`` is known from the start.
    """

    def __init__(self, loop: ToolLoop, first_round: StreamingChatResponse) -> None:
        super().__init__(loop, first_round)
        self._round: StreamingChatResponse = first_round
        self.stream = self._iterate()

    def _iterate(self) -> Generator[str, None, None]:
        loop = self._loop
        try:
            while True:
                for text in self._round.stream:
                    loop.saw_text()
                    yield text
                if not self._round.tool_calls:
                    break
                loop.run_tools(self._round.tool_calls, self._round.content)
                self._round = _next_round(loop)
        except GeneratorExit:
            self._round.close()
            loop.finish()
            raise
        except ProviderError as exc:
            raise loop.failed(exc) from exc
        loop.finish()

    def close(self) -> None:
        """Stop; an unfinished answer is recorded as ``cancelled`` with its tool calls and text so far."""
        self.stream.close()
        if self._loop.final is None:
            self._round.close()
            self._loop.finish()

    cancel = close


def _next_round(loop: ToolLoop) -> StreamingChatResponse:
    try:
        return loop.rounds_client.create_streaming_chat(loop.transcript, **loop.round_options())
    except ProviderError as exc:
        raise loop.failed(exc) from exc


def stream_with_tools(
    client: TrackedChat,
    messages: list[dict[str, Any]],
    **options: Unpack[ToolRunOptions],
) -> ToolStreamingResponse:
    """Start a streamed tool loop; the final answer streams, tool rounds run between (streamed too)."""
    loop = ToolLoop(client, messages, options)
    return ToolStreamingResponse(loop, _next_round(loop))


class AsyncToolStreamingResponse(_ToolStreamState, AsyncTextStream):
    """The async twin of ``ToolStreamingResponse``: ``async for`` over it; ``aclose()`` stops early."""

    def __init__(self, loop: ToolLoop, first_round: AsyncStreamingChatResponse) -> None:
        super().__init__(loop, first_round)
        self._round: AsyncStreamingChatResponse = first_round
        self.stream = self._iterate()

    async def _iterate(self) -> AsyncGenerator[str, None]:
        loop = self._loop
        try:
            while True:
                async for text in self._round.stream:
                    loop.saw_text()
                    yield text
                if not self._round.tool_calls:
                    break
                await asyncio.to_thread(loop.run_tools, self._round.tool_calls, self._round.content)
                self._round = await _anext_round(loop)
        except (GeneratorExit, asyncio.CancelledError):
            await self._round.aclose()
            loop.finish()  # cancellation must not await again: record on this thread
            raise
        except ProviderError as exc:
            raise await asyncio.to_thread(loop.failed, exc) from exc
        await asyncio.to_thread(loop.finish)

    async def aclose(self) -> None:
        """Stop; an unfinished answer is recorded as ``cancelled`` with its tool calls and text so far."""
        await self.stream.aclose()
        if self._loop.final is None:
            await self._round.aclose()
            self._loop.finish()

    cancel = aclose


async def _anext_round(loop: ToolLoop) -> AsyncStreamingChatResponse:
    try:
        return await loop.rounds_client.acreate_streaming_chat(loop.transcript, **loop.round_options())
    except ProviderError as exc:
        raise await asyncio.to_thread(loop.failed, exc) from exc


async def astream_with_tools(
    client: TrackedChat,
    messages: list[dict[str, Any]],
    **options: Unpack[ToolRunOptions],
) -> AsyncToolStreamingResponse:
    """The async twin of ``stream_with_tools``: ``async for`` over the result."""
    loop = await asyncio.to_thread(ToolLoop, client, messages, options)
    return AsyncToolStreamingResponse(loop, await _anext_round(loop))
