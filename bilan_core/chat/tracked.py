"""``TrackedChat``, the mixin that gives ``Bilan`` its tracked OpenAI chat calls, sync and async.

Every call becomes one recorded turn (request, answer, tokens, timing, error). Retries and back-off are
the openai SDK's own (``max_retries``, ``timeout`` from the settings). The answers are in ``responses``
and ``streaming``, the checks in ``validation``, the OpenAI clients in ``client_pool``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, Unpack

import openai

from bilan_core.chat.client_pool import ChatClients
from bilan_core.chat.model_names import chat_models
from bilan_core.chat.options import TRANSPORT_OPTIONS, ChatOptions
from bilan_core.chat.prompting import apply_prompt
from bilan_core.chat.provider_errors import map_provider_error
from bilan_core.chat.responses import ChatCall, TrackedChatResponse, completed_call, failed_call
from bilan_core.chat.routing import RouteDecision, needs_routing, resolve_model
from bilan_core.chat.streaming import AsyncStreamingChatResponse, StreamingChatResponse
from bilan_core.chat.validation import validate_messages, validate_options
from bilan_core.clock import now_ms
from bilan_core.errors import ProviderError
from bilan_core.settings import BilanSettings
from bilan_core.store.models import TurnFields

MODEL_LIST_TIMEOUT = 10.0
# Recorded on the turn, never sent to the provider.
LABEL_OPTIONS = frozenset(
    {"model", "route", "conversation_id", "variant", "user_id", "prompt_ref", "regenerated_from"}
)
# Sent only when given; None means "the provider's default".
ANSWER_OPTIONS = ("temperature", "max_tokens", "tools", "tool_choice")
# The answer parameters kept in ``turns.parameters`` (tools are kept in ``turns.tools``).
RECORDED_PARAMETERS = ("temperature", "max_tokens")
NAMED_OPTIONS = LABEL_OPTIONS | frozenset(ANSWER_OPTIONS)


class TrackedChat:
    """Mixin for ``Bilan``: tracked OpenAI chat calls, sync and async, streamed or not."""

    settings: BilanSettings
    user_id: str
    team_session: str | None

    if TYPE_CHECKING:

        def record_turn_fields(self, fields: TurnFields) -> None:
            """Keep a finished turn, given as plain values (``Bilan`` implements it)."""

        def route_model(self) -> RouteDecision:
            """The routing policy's choice of model now (``Bilan`` implements it)."""

    def __copy__(self) -> Self:
        self._chat_clients()  # made before copying, so every per-visitor copy shares the connections
        twin = type(self).__new__(type(self))
        twin.__dict__.update(self.__dict__)
        return twin

    def _chat_clients(self) -> ChatClients:
        holder: ChatClients | None = self.__dict__.get("_chat_holder")
        if holder is None:
            holder = self.__dict__.setdefault("_chat_holder", ChatClients(self.settings))
        return holder

    def close_chat_clients(self) -> None:
        """Close the OpenAI clients this Bilan client opened."""
        holder = self.__dict__.get("_chat_holder")
        if holder is not None:
            holder.close()

    def list_models(self, *, chat_only: bool = True) -> list[str]:
        """The chat models the endpoint's ``/v1/models`` lists (every model with ``chat_only=False``), or
        the configured list when it does not answer."""
        client = self._chat_clients().sync()
        try:
            page = client.with_options(max_retries=0, timeout=min(self.settings.timeout, MODEL_LIST_TIMEOUT))
            names = sorted(model.id for model in page.models.list().data)
        except openai.OpenAIError:
            names = []
        return (chat_models(names) if chat_only else names) or list(self.settings.models)

    def create_chat_completion(
        self, messages: list[dict[str, Any]], **options: Unpack[ChatOptions]
    ) -> TrackedChatResponse:
        """Ask the model for an answer and record the turn; returns the text and its ``prompt_id``."""
        call = self._prepare_call(messages, options)
        try:
            completion = self._chat_clients().sync().chat.completions.create(**call.request)
        except openai.OpenAIError as exc:
            raise self._record_failure(call, exc) from exc
        response, fields = completed_call(call, completion)
        self.record_turn_fields(fields)
        return response

    async def acreate_chat_completion(
        self, messages: list[dict[str, Any]], **options: Unpack[ChatOptions]
    ) -> TrackedChatResponse:
        """The async twin of ``create_chat_completion``."""
        call = await self._aprepare_call(messages, options)
        try:
            completion = await self._chat_clients().for_running_loop().chat.completions.create(**call.request)
        except openai.OpenAIError as exc:
            raise await asyncio.to_thread(self._record_failure, call, exc) from exc
        response, fields = completed_call(call, completion)
        await asyncio.to_thread(self.record_turn_fields, fields)
        return response

    def create_streaming_chat(
        self, messages: list[dict[str, Any]], **options: Unpack[ChatOptions]
    ) -> StreamingChatResponse:
        """Start a streamed answer; iterate its ``stream`` for text. The turn is recorded when it ends."""
        call = self._prepare_call(messages, options, stream=True)
        try:
            raw = self._chat_clients().sync().chat.completions.create(**call.request)
        except openai.OpenAIError as exc:
            raise self._record_failure(call, exc) from exc
        return StreamingChatResponse(call, raw, self.record_turn_fields)

    async def acreate_streaming_chat(
        self, messages: list[dict[str, Any]], **options: Unpack[ChatOptions]
    ) -> AsyncStreamingChatResponse:
        """The async twin of ``create_streaming_chat``: ``async for`` over the result."""
        call = await self._aprepare_call(messages, options, stream=True)
        try:
            raw = await self._chat_clients().for_running_loop().chat.completions.create(**call.request)
        except openai.OpenAIError as exc:
            raise await asyncio.to_thread(self._record_failure, call, exc) from exc
        return AsyncStreamingChatResponse(call, raw, self.record_turn_fields)

    async def _aprepare_call(
        self, messages: object, options: Mapping[str, Any], *, stream: bool = False
    ) -> ChatCall:
        """``_prepare_call``, in a worker thread when ``model="auto"`` reads the trust figures."""
        if needs_routing(options.get("model")):
            return await asyncio.to_thread(self._prepare_call, messages, options, stream=stream)
        return self._prepare_call(messages, options, stream=stream)

    def _prepare_call(
        self, messages: object, options: Mapping[str, Any], *, stream: bool = False
    ) -> ChatCall:
        """The validated request, with the model resolved (``"auto"`` routed, None the default)."""
        clients = self._chat_clients()
        messages, options = apply_prompt(messages, options)
        checked = validate_messages(messages)
        model, route = resolve_model(
            options.get("model"), self.settings, route=options.get("route"), decide=self.route_model
        )
        options = {**options, "model": model, "route": route}
        validate_options(options)
        request: dict[str, Any] = {"model": model, "messages": checked}
        request.update({name: options[name] for name in ANSWER_OPTIONS if options.get(name) is not None})
        extra = {name: value for name, value in options.items() if name not in NAMED_OPTIONS}
        request.update(extra)
        if stream:
            request.update(stream=True, stream_options={"include_usage": True})
        parameters = {name: request[name] for name in RECORDED_PARAMETERS if name in request}
        parameters.update({name: value for name, value in extra.items() if name not in TRANSPORT_OPTIONS})
        return ChatCall(
            prompt_id=str(uuid.uuid4()),
            request=request,
            messages=checked,
            parameters=parameters,
            conversation_id=options.get("conversation_id"),
            user_id=options.get("user_id") or self.user_id,
            team_session=self.team_session,
            variant=options.get("variant"),
            prompt_ref=options.get("prompt_ref"),
            regenerated_from=options.get("regenerated_from"),
            route=route,
            provider=clients.provider,
            demo=clients.demo,
            created_ms=now_ms(),
            started=time.perf_counter(),
        )

    def _record_failure(self, call: ChatCall, exc: openai.OpenAIError) -> ProviderError:
        error = map_provider_error(exc, prompt_id=call.prompt_id)
        self.record_turn_fields(failed_call(call, error))
        return error
