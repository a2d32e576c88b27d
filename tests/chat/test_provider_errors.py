"""Provider failures: SDK retries, then a typed error with the provider's message; the turn is kept."""

from __future__ import annotations

import asyncio

import pytest

from bilan_core.errors import (
    AuthError,
    ContextLimitError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServiceUnavailableError,
)
from tests.chat_helpers import USER, all_turns, client_for, only_turn


def test_429_with_retry_after_is_retried_by_the_sdk_after_the_wait(openai_server, sqlite_url):
    client = client_for(openai_server, sqlite_url, max_retries=2)
    openai_server.rate_limit(retry_after=0.6)

    response = client.create_chat_completion(USER)

    first, second = openai_server.chat_requests
    assert 0.55 <= second.received_at - first.received_at < 2.0
    assert second.headers["x-stainless-retry-count"] == "1"
    turn = only_turn(client)
    assert (turn.prompt_id, turn.status) == (response.prompt_id, "ok")


def test_429_every_time_raises_rate_limit_error_and_records_it(openai_server, sqlite_url):
    client = client_for(openai_server, sqlite_url, max_retries=1)
    openai_server.rate_limit(retry_after=0.05, times=2)

    with pytest.raises(RateLimitError) as caught:
        client.create_chat_completion(USER)

    assert len(openai_server.chat_requests) == 2
    error = caught.value
    assert error.message == "Rate limit reached for requests. Please try again later."
    assert error.status_code == 429
    turn = only_turn(client)
    assert turn.prompt_id == error.prompt_id
    assert (turn.status, turn.error_type, turn.error_message) == ("error", "rate_limit", error.message)
    assert turn.response == "" and turn.latency_ms >= 50


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_raises_service_unavailable(openai_server, sqlite_url, status):
    client = client_for(openai_server, sqlite_url)
    openai_server.fail(status, "The server had an error while processing your request.")

    with pytest.raises(ServiceUnavailableError, match="server had an error"):
        client.create_chat_completion(USER)

    assert only_turn(client).error_type == "service_unavailable"


def test_answer_slower_than_the_timeout_raises_provider_timeout(openai_server, sqlite_url):
    client = client_for(openai_server, sqlite_url, timeout=0.3)
    openai_server.delay_next(1.5)

    with pytest.raises(ProviderTimeoutError):
        client.create_chat_completion(USER)

    turn = only_turn(client)
    assert (turn.status, turn.error_type) == ("error", "timeout")
    assert 250 <= turn.latency_ms < 1400


def test_bad_key_raises_auth_error(openai_server, sqlite_url):
    client = client_for(openai_server, sqlite_url)
    openai_server.fail(401, "Incorrect API key provided: sk-test***.", code="invalid_api_key")

    with pytest.raises(AuthError, match="Incorrect API key provided"):
        client.create_chat_completion(USER)

    assert only_turn(client).error_type == "auth_error"


def test_unknown_model_raises_model_not_found(openai_server, sqlite_url):
    client = client_for(openai_server, sqlite_url)
    openai_server.fail(
        404, "The model `gpt-9` does not exist or you do not have access to it.", code="model_not_found"
    )

    with pytest.raises(ModelNotFoundError, match="gpt-9") as caught:
        client.create_chat_completion(USER, model="gpt-9")

    turn = only_turn(client)
    assert (turn.model, turn.error_message) == ("gpt-9", caught.value.message)


def test_context_length_raises_context_limit_error(openai_server, sqlite_url):
    client = client_for(openai_server, sqlite_url)
    message = "This model's maximum context length is 128000 tokens. Your messages resulted in 130000 tokens."
    openai_server.fail(400, message, code="context_length_exceeded")

    with pytest.raises(ContextLimitError) as caught:
        client.create_chat_completion(USER)

    assert caught.value.message == message
    assert only_turn(client).error_type == "context_limit"


def test_other_bad_request_raises_the_generic_provider_error(openai_server, sqlite_url):
    client = client_for(openai_server, sqlite_url)
    openai_server.fail(400, "Invalid value for 'seed'.", code="invalid_value")

    with pytest.raises(ProviderError, match="Invalid value for 'seed'") as caught:
        client.create_chat_completion(USER, seed="x")

    assert type(caught.value) is ProviderError
    assert only_turn(client).error_type == "unknown_error"


def test_streaming_call_refused_at_start_is_recorded(openai_server, sqlite_url):
    client = client_for(openai_server, sqlite_url)
    openai_server.fail(503, "Service temporarily unavailable.")

    with pytest.raises(ServiceUnavailableError):
        client.create_streaming_chat(USER)

    turn = only_turn(client)
    assert (turn.status, turn.error_type, turn.error_message) == (
        "error",
        "service_unavailable",
        "Service temporarily unavailable.",
    )


def test_async_errors_are_mapped_and_recorded(openai_server, sqlite_url):
    client = client_for(openai_server, sqlite_url)
    openai_server.fail(401, "Incorrect API key provided.")
    openai_server.fail(429, "Slow down.")

    async def both():
        with pytest.raises(AuthError):
            await client.acreate_chat_completion(USER)
        with pytest.raises(RateLimitError):
            await client.acreate_streaming_chat(USER)

    asyncio.run(both())

    assert [turn.error_type for turn in all_turns(client)] == ["auth_error", "rate_limit"]
