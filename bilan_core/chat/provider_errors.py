"""Mapping openai SDK exceptions to Bilan's typed provider errors, keeping the provider's message."""

from __future__ import annotations

import openai

from bilan_core.errors import (
    AuthError,
    ContextLimitError,
    MalformedResponseError,
    ModelNotFoundError,
    NetworkError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServiceUnavailableError,
)

CONTEXT_LENGTH_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
# What reading a stream can raise: the SDK's own errors, ValueError (an event that is not JSON) and the
# AttributeError / TypeError of a chunk that is JSON but not shaped like one.
STREAM_READ_ERRORS = (openai.OpenAIError, ValueError, AttributeError, TypeError)


def provider_message(exc: openai.OpenAIError) -> str:
    """The provider's own error text (the ``error.message`` of the body when there is one)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        inner = error if isinstance(error, dict) else body
        message = inner.get("message")
        if isinstance(message, str) and message:
            return message
    return str(getattr(exc, "message", None) or exc)


def map_provider_error(exc: openai.OpenAIError, *, prompt_id: str | None) -> ProviderError:
    """The typed Bilan error for an openai SDK exception."""
    message = provider_message(exc)
    status = getattr(exc, "status_code", None)
    error_class = _error_class(exc, status)
    return error_class(message, prompt_id=prompt_id, status_code=status)


def _error_class(exc: openai.OpenAIError, status: int | None) -> type[ProviderError]:
    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeoutError
    if isinstance(exc, openai.APIConnectionError):
        return NetworkError
    if status == 429:
        return RateLimitError
    if status in (401, 403):
        return AuthError
    if status == 404:
        return ModelNotFoundError
    if getattr(exc, "code", None) in CONTEXT_LENGTH_CODES:
        return ContextLimitError
    if status is not None and status >= 500:
        return ServiceUnavailableError
    return ProviderError


def map_stream_error(exc: Exception, *, prompt_id: str | None) -> ProviderError:
    """The typed Bilan error for anything ``STREAM_READ_ERRORS`` names, raised while reading a stream."""
    if isinstance(exc, openai.OpenAIError):
        return map_provider_error(exc, prompt_id=prompt_id)
    what = "not valid JSON" if isinstance(exc, ValueError) else "not shaped like a chat completion chunk"
    message = f"the provider sent a stream event that is {what} ({type(exc).__name__}: {exc})"
    return MalformedResponseError(message, prompt_id=prompt_id)
