"""What a tracked call returns and records: token counts, the answer from a completion, the failed turn."""

from __future__ import annotations

import time

from openai.types.chat import ChatCompletion
from openai.types.completion_usage import CompletionUsage

from bilan_core.chat.responses import ChatCall, Usage, completed_call, failed_call
from bilan_core.errors import NetworkError


def a_call(**changes: object) -> ChatCall:
    """A prepared call as the tracked methods make it."""
    fields: dict = {
        "prompt_id": "p-1",
        "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "seed": 7},
        "messages": [{"role": "user", "content": "Hi"}],
        "parameters": {"seed": 7},
        "conversation_id": "c-1",
        "user_id": "alice",
        "team_session": None,
        "variant": "v1",
        "route": None,
        "provider": "api.openai.com",
        "demo": False,
        "created_ms": 1_700_000_000_000,
        "started": time.perf_counter(),
    }
    return ChatCall(**(fields | changes))


def completion(content: str | None, *, usage: CompletionUsage | None = None) -> ChatCompletion:
    choices = (
        []
        if content is None
        else [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}]
    )
    return ChatCompletion.model_validate(
        {"id": "x", "object": "chat.completion", "created": 0, "model": "gpt-4o", "choices": choices,
         "usage": usage}
    )  # fmt: skip


def test_usage_comes_from_the_sdk_counts_or_stays_unknown():
    counts = CompletionUsage(prompt_tokens=3, completion_tokens=4, total_tokens=7)
    assert Usage.from_sdk(counts) == Usage(3, 4, 7)
    assert Usage.from_sdk(None) == Usage(None, None, None)


def test_a_completed_call_returns_the_answer_and_the_turn_to_record():
    usage = CompletionUsage(prompt_tokens=3, completion_tokens=2, total_tokens=5)

    response, turn = completed_call(a_call(), completion("Hello.", usage=usage))

    assert (response.content, response.prompt_id, response.model, response.usage) == (
        "Hello.", "p-1", "gpt-4o", Usage(3, 2, 5)
    )  # fmt: skip
    assert response.metadata["finish_reason"] == "stop" and response.metadata["tool_calls"] == []
    recorded = [turn[name] for name in ("prompt_id", "status", "response", "prompt_text")]
    assert recorded == ["p-1", "ok", "Hello.", "Hi"]
    assert (turn["prompt_version"], turn["parameters"], turn["total_tokens"]) == ("v1", {"seed": 7}, 5)


def test_a_completion_without_choices_is_an_empty_answer():
    response, turn = completed_call(a_call(), completion(None))
    assert response.content == "" and turn["finish_reason"] is None and turn["tool_calls"] is None


def test_a_failed_call_records_the_error_and_no_nul_reaches_the_database():
    error = NetworkError("cut\x00off", prompt_id="p-1")

    turn = failed_call(a_call(), error)

    assert (turn["status"], turn["error_type"], turn["response"]) == ("error", "network_error", "")
    assert turn["error_message"] == "cut\ufffdoff"


def test_a_nul_in_the_answer_is_stored_as_a_replacement_character():
    _, turn = completed_call(a_call(), completion("a\x00b"))
    assert turn["response"] == "a\ufffdb"
