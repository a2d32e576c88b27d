"""Typed errors. Provider failures carry the provider's message and a wire ``error_type``."""

from __future__ import annotations


class BilanError(Exception):
    """Base of every error Bilan raises on purpose."""


class ConfigurationError(BilanError, ValueError):
    """A setting is missing or invalid."""


class UnknownPromptError(BilanError, LookupError):
    """No turn has the given prompt id."""


class NotFoundError(BilanError, LookupError):
    """A conversation, comparison or batch run does not exist."""


class PromptNotFoundError(NotFoundError):
    """No prompt, version or label matches what was asked; the message names what exists."""


class PromptTemplateError(BilanError, ValueError):
    """A prompt template is broken, or its variables are missing or unknown."""


class NotOwnerError(BilanError, PermissionError):
    """Someone other than a conversation's owner tried to change it."""


class ProviderError(BilanError):
    """A model call failed; ``error_type`` is one of the wire format's values."""

    error_type = "unknown_error"

    def __init__(self, message: str, *, prompt_id: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.prompt_id = prompt_id
        self.status_code = status_code


class ProviderTimeoutError(ProviderError):
    """The provider did not answer in time, after the retries."""

    error_type = "timeout"


class RateLimitError(ProviderError):
    """The provider kept answering 429, after the retries."""

    error_type = "rate_limit"


class ServiceUnavailableError(ProviderError):
    """The provider answered 5xx, after the retries."""

    error_type = "service_unavailable"


class ContextLimitError(ProviderError):
    """The request is longer than the model's context."""

    error_type = "context_limit"


class AuthError(ProviderError):
    """The provider refused the key."""

    error_type = "auth_error"


class NetworkError(ProviderError):
    """The connection failed or the stream was cut before the answer finished."""

    error_type = "network_error"


class MalformedResponseError(ProviderError):
    """The provider's answer could not be read (e.g. a stream event that is not valid JSON)."""

    error_type = "unknown_error"


class ModelNotFoundError(ProviderError):
    """The provider does not know the model."""

    error_type = "unknown_error"
