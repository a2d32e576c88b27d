"""What a tracked chat call returns and records: the answer, its token counts, and the turn of the call.

``ChatCall`` is one validated request with the labels its turn carries; ``completed_call`` and
``failed_call`` turn its outcome into the response and the turn to record.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from openai.types.chat import ChatCompletion
from openai.types.completion_usage import CompletionUsage

from bilan_core.chat.validation import last_user_text
from bilan_core.errors import ProviderError
from bilan_core.limits import storable
from bilan_core.store.models import TurnFields


@dataclass(frozen=True)
class Usage:
    """Token counts the provider reported (None when it reported none)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None

    @classmethod
    def from_sdk(cls, usage: CompletionUsage | None) -> Usage:
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
class ChatCall:
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
    prompt_ref: tuple[str, int] | None = None  # the stored prompt version of ``prompt=``: name, number
    regenerated_from: str | None = None  # the prompt id of the earlier answer this call asks again

    @property
    def model(self) -> str:
        """The model the request asks."""
        model: str = self.request["model"]
        return model

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
    ) -> TurnFields:
        """The turn to record for this call, as plain values (no ``Turn`` is built on the caller's thread)."""
        prompt_ref = self.prompt_ref
        return {
            "prompt_id": self.prompt_id,
            "conversation_id": self.conversation_id,
            "user_id": self.user_id,
            "team_session": self.team_session,
            "model": self.request["model"],
            "provider": self.provider,
            "prompt_version": self.variant,
            "prompt_name": prompt_ref[0] if prompt_ref else None,
            "prompt_number": prompt_ref[1] if prompt_ref else None,
            "regenerated_from": self.regenerated_from,
            "messages": _plain(self.messages),
            "parameters": _plain(self.parameters),
            "tools": _plain(self.request.get("tools")),
            "tool_calls": tool_calls or None,
            "route": _plain(self.route),
            "prompt_text": last_user_text(self.messages),
            "response": storable(response),
            "finish_reason": finish_reason,
            "status": status,
            "error_type": error.error_type if error else None,
            "error_message": storable(error.message) if error else None,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "ttft_ms": ttft_ms,
            "latency_ms": latency_ms,
            "created_ms": self.created_ms,
        }


def completed_call(call: ChatCall, completion: ChatCompletion) -> tuple[TrackedChatResponse, TurnFields]:
    """The response to return and the turn to record for a call the provider answered."""
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


def failed_call(call: ChatCall, error: ProviderError) -> TurnFields:
    """The turn to record for a call the provider refused or never answered."""
    return call.turn(
        response="",
        finish_reason=None,
        status="error",
        usage=Usage(),
        tool_calls=[],
        ttft_ms=None,
        latency_ms=call.elapsed_ms(),
        error=error,
    )


def _plain(value: Any) -> Any:
    """``value`` as plain JSON data (SDK objects become dicts), ready for a JSON column."""
    if value is None:
        return None
    if not value and type(value) in (dict, list):
        return type(value)()  # most calls have no parameters: a fresh empty one, without a JSON round trip
    return json.loads(json.dumps(value, default=_to_plain))


def _to_plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(exclude_none=True) if callable(dump) else str(value)
