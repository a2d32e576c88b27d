"""The Playground's reads: a conversation's turns with one user's votes, in one query."""

from __future__ import annotations

from sqlalchemy import event

from bilan_core.conversations import start_conversation
from bilan_core.db import get_engine
from bilan_core.playground import ChatEntry, chat_messages, failure_text, figures_line, load_chat
from bilan_core.votes import cast_vote
from tests.helpers import add_turn


def _conversation(engine, turns: int) -> tuple[str, list[str]]:
    conversation_id = start_conversation(engine, user_id="alice").conversation_id
    ids = [
        add_turn(
            engine,
            conversation_id=conversation_id,
            prompt_text=f"question {n}",
            response=f"answer {n}",
            created_ms=1_000 + n,
            prompt_tokens=10,
            completion_tokens=20,
            latency_ms=812.4,
            ttft_ms=95.0,
        )
        for n in range(turns)
    ]
    return conversation_id, ids


def test_load_chat_returns_turns_in_order_with_the_users_own_votes(sqlite_url):
    engine = get_engine(sqlite_url)
    conversation_id, ids = _conversation(engine, 3)
    add_turn(engine, conversation_id="another", prompt_text="elsewhere")
    cast_vote(engine, prompt_id=ids[0], user_id="alice", value=1, comment="clear")
    cast_vote(engine, prompt_id=ids[1], user_id="bob", value=-1, comment="bob's view")
    cast_vote(engine, prompt_id=ids[2], user_id="alice", value=-1)

    entries = load_chat(engine, conversation_id=conversation_id, user_id="alice")

    assert [e.prompt_id for e in entries] == ids
    assert [(e.vote, e.comment) for e in entries] == [(1, "clear"), (None, None), (-1, None)]
    bob = load_chat(engine, conversation_id=conversation_id, user_id="bob")
    assert [(e.vote, e.comment) for e in bob] == [(None, None), (-1, "bob's view"), (None, None)]
    assert load_chat(engine, conversation_id="missing", user_id="alice") == []


def test_load_chat_runs_one_query_whatever_the_length(sqlite_url):
    engine = get_engine(sqlite_url)
    short_id, _ = _conversation(engine, 2)
    long_id, long_ids = _conversation(engine, 150)
    for prompt_id in long_ids[::2]:
        cast_vote(engine, prompt_id=prompt_id, user_id="alice", value=1)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    load_chat(engine, conversation_id=short_id, user_id="alice")
    short_count = len(statements)
    entries = load_chat(engine, conversation_id=long_id, user_id="alice")

    assert short_count == 1
    assert len(statements) - short_count == 1
    assert len(entries) == 150
    assert sum(e.vote == 1 for e in entries) == 75


def test_chat_messages_send_the_answered_history_only():
    answered = ChatEntry(prompt_id="a", prompt_text="hi", response="hello", status="ok", model="m")
    stopped = ChatEntry(prompt_id="b", prompt_text="long?", response="par", status="cancelled", model="m")
    failed = ChatEntry(prompt_id="c", prompt_text="boom", response=None, status="error", model="m")

    messages = chat_messages([answered, stopped, failed], system_prompt="  Be brief. ", prompt="next")

    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "long?"},
        {"role": "assistant", "content": "par"},
        {"role": "user", "content": "next"},
    ]
    assert chat_messages([], system_prompt="  ", prompt="only") == [{"role": "user", "content": "only"}]


def test_figures_line_and_failure_text():
    entry = ChatEntry(
        prompt_id="a",
        prompt_text="q",
        response="r",
        status="cancelled",
        model="gpt-4o-mini",
        prompt_version="v3",
        prompt_tokens=1234,
        completion_tokens=56,
        latency_ms=812.4,
        ttft_ms=95.6,
    )
    assert figures_line(entry) == (
        "gpt-4o-mini · 1,234 prompt + 56 completion tokens · latency 812 ms · TTFT 96 ms"
        " · prompt v3 · stopped early"
    )
    bare = ChatEntry(prompt_id="b", prompt_text="q", response=None, status="error", model="m")
    assert figures_line(bare) == "m · — prompt + — completion tokens · latency — · TTFT —"
    failed = ChatEntry(
        prompt_id="c",
        prompt_text="q",
        response=None,
        status="error",
        model="m",
        error_type="rate_limit",
        error_message="Rate limit reached",
    )
    assert failure_text(failed) == "The model call failed (rate limit): Rate limit reached"
    assert failure_text(bare) == "The model call failed (error): no reason given"
