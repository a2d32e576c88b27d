"""The checks before a chat call: bad messages and options raise ValueError before any request or row,
and labels follow the shared limits (up to the column width, no NUL)."""

from __future__ import annotations

import random
import re

import pytest

from bilan_core.chat.validation import last_user_text, validate_messages, validate_options
from tests.chat_helpers import USER, all_turns, client_for, only_turn


@pytest.fixture
def client(openai_server, sqlite_url):
    bilan = client_for(openai_server, sqlite_url)
    yield bilan
    bilan.close()


@pytest.mark.parametrize(
    ("messages", "options", "complaint"),
    [
        ([], {}, "non-empty list"),
        ("hello", {}, "non-empty list"),
        (["hello"], {}, "messages[0] must be a dict"),
        ([{"role": "robot", "content": "hi"}], {}, "unknown role 'robot'"),
        ([{"role": "user"}], {}, "has no 'content'"),
        ([{"role": "user", "content": None}], {}, "empty content"),
        ([{"role": "user", "content": 42}], {}, "content must be text"),
        (USER, {"temperature": 2.5}, "temperature must be a number from 0 to 2"),
        (USER, {"temperature": -0.1}, "temperature must be a number from 0 to 2"),
        (USER, {"temperature": "hot"}, "temperature must be a number"),
        (USER, {"temperature": True}, "temperature must be a number"),
        (USER, {"max_tokens": 0}, "max_tokens must be a whole number of at least 1"),
        (USER, {"max_tokens": 1.5}, "max_tokens must be a whole number"),
        (USER, {"model": ""}, "model must be a non-empty string"),
        (USER, {"tools": "get_weather"}, "tools must be a list"),
        (USER, {"route": "fast"}, "route must be a dict"),
        (USER, {"stream": True}, "stream cannot be passed"),
        (USER, {"variant": "v" * 201}, "variant is 201 characters; the limit is 200"),
        (USER, {"model": "m" * 201}, "model is 201 characters; the limit is 200"),
        (USER, {"conversation_id": "c" * 201}, "conversation_id is 201 characters"),
        (USER, {"user_id": "u" * 201}, "user_id is 201 characters"),
    ],
)
def test_bad_input_raises_value_error_before_any_call_and_records_nothing(
    client, openai_server, messages, options, complaint
):
    with pytest.raises(ValueError, match=re.escape(complaint)):
        client.create_chat_completion(messages, **options)
    with pytest.raises(ValueError, match=re.escape(complaint)):
        client.create_streaming_chat(messages, **options)

    assert openai_server.chat_requests == []
    assert all_turns(client) == []


@pytest.mark.postgres
def test_labels_up_to_the_column_width_are_recorded_on_postgresql_and_longer_ones_refused_first(
    openai_server, postgres_url
):
    client = client_for(openai_server, postgres_url)
    response = client.create_chat_completion(USER, variant="v" * 200, user_id="u" * 200)
    with pytest.raises(ValueError, match="variant is 201 characters"):
        client.create_chat_completion(USER, variant="v" * 201)
    assert len(openai_server.chat_requests) == 1
    turn = only_turn(client)
    assert (turn.prompt_id, turn.prompt_version, turn.user_id) == (response.prompt_id, "v" * 200, "u" * 200)


def rare_characters(count: int, seed: int = 0) -> str:
    """``count`` random 4-byte characters (CJK extension B): text PostgreSQL cannot compress in an index."""
    rng = random.Random(seed)
    return "".join(chr(rng.randrange(0x20000, 0x2A6DF)) for _ in range(count))


@pytest.mark.postgres
def test_labels_over_an_index_row_s_bytes_are_refused_before_the_model_is_asked_on_postgresql(
    openai_server, postgres_url
):
    widest = rare_characters(150)  # 600 bytes: four such labels share an index row on PostgreSQL
    client = client_for(openai_server, postgres_url, team_session=widest)
    response = client.create_chat_completion(USER, variant=widest, user_id=widest)
    # Within 200 characters, but 800 bytes each: this turn's index rows would not fit.
    model, variant, user = (rare_characters(200, seed) for seed in (1, 2, 3))
    with pytest.raises(ValueError, match="is 800 bytes in UTF-8; the limit is 600"):
        client.create_chat_completion(USER, model=model, variant=variant, user_id=user)
    assert len(openai_server.chat_requests) == 1
    assert only_turn(client).prompt_id == response.prompt_id


@pytest.mark.parametrize("name", ["model", "conversation_id", "variant", "user_id"])
def test_a_label_with_a_nul_is_refused_in_the_shared_words(name):
    with pytest.raises(ValueError, match=re.escape(f"{name} contains a NUL character")):
        validate_options({name: "a\x00b"})


def test_a_message_with_a_nul_anywhere_is_refused_before_the_model_is_asked():
    parts = [{"role": "user", "content": [{"type": "text", "text": "hi\x00"}]}]
    with pytest.raises(ValueError, match=re.escape("messages[0] contains a NUL character")):
        validate_messages(parts)


def test_an_assistant_message_with_tool_calls_may_have_no_content():
    messages = [*USER, {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]}]
    assert validate_messages(messages) is messages


def test_the_options_bilan_sets_itself_are_refused_as_extras():
    with pytest.raises(ValueError, match="stream, stream_options cannot be passed"):
        validate_options({"stream": True, "stream_options": {}})
    validate_options({"model": "gpt-4o", "seed": 7, "route": {"model": "gpt-4o"}})


def test_the_last_user_text_joins_text_parts_and_skips_other_roles():
    parts = {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url"}, "x"]}
    history = [{"role": "user", "content": "first"}, {"role": "assistant", "content": "b"}]
    assert last_user_text(history) == "first"
    assert last_user_text([parts]) == "a "
    assert last_user_text([{"role": "system", "content": "s"}]) is None
