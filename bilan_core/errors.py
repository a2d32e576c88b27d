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


class ReviewSessionNotFoundError(NotFoundError):
    """No review session has the given id (in this project)."""


class ReviewItemNotFoundError(NotFoundError):
    """The review session has no item with the given id."""


class ReviewItemNotAssignedError(BilanError, PermissionError):
    """A rater tried to rate (or open) an item the session never handed to them."""


class ReviewSessionClosedError(BilanError, ValueError):
    """A rating, skip or handout was asked of a closed review session."""


class InvalidRatingError(BilanError, ValueError):
    """A rating does not fit the session's rubric (scores, criteria, vote or verdict)."""


class EmptyReviewSourceError(BilanError, ValueError):
    """No recorded turn matches what a review session was asked to be made from."""


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


# The errors a server names in its refusal (``{"error": ..., "kind": name}``) so that a server-mode
# client raises the same type as local mode.
NAMED_ERRORS: dict[str, type[BilanError]] = {
    error.__name__: error
    for error in (
        UnknownPromptError,
        ReviewSessionNotFoundError,
        ReviewItemNotFoundError,
        ReviewItemNotAssignedError,
        ReviewSessionClosedError,
        InvalidRatingError,
        EmptyReviewSourceError,
    )
}
