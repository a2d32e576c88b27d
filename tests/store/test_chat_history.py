"""The Playground's reads: a conversation's turns with one user's votes, in one query."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from bilan_core.app.playground import (
    ask_again,
    chat_messages,
    failure_text,
    figures_line,
    on_first_chunk,
    superseded,
)
from bilan_core.client.bilan import Bilan
from bilan_core.errors import NotFoundError, NotOwnerError
from bilan_core.store.chat_history import ChatEntry, load_chat
from bilan_core.store.conversations import (
    can_edit_conversation,
    delete_conversation,
    get_conversation,
    rename_conversation,
    start_conversation,
)
from bilan_core.store.engine import get_engine
from bilan_core.store.votes import cast_vote
from tests.helpers import add_turn, figures, server_client


def _conversation(engine, turns: int) -> tuple[str, list[str]]:
    conversation_id = start_conversation(engine, user_id="alice").conversation_id
    ids = [
        add_turn(
            engine,
            conversation_id=conversation_id,
            prompt_text=f"question {n}",
            response=f"answer {n}",
            created_ms=1_000 + n,
            **figures(tokens=(10, 20), latency_ms=812.4, ttft_ms=95.0),
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
        **figures(tokens=(1234, 56), latency_ms=812.4, ttft_ms=95.6),
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
    cut = ChatEntry(
        prompt_id="d", prompt_text="q", response="Half an", status="error", model="m", error_message="cut"
    )
    assert failure_text(cut) == "The answer was cut off (error): cut. The text above is what arrived before."


def test_the_last_question_can_be_asked_again_and_the_old_answer_is_kept_but_not_resent():
    old = ChatEntry(prompt_id="a", prompt_text="hi", response="hello", status="ok", model="m")
    cut = ChatEntry(prompt_id="b", prompt_text="hi", response="hel", status="error", model="m")
    again = ChatEntry(
        prompt_id="c", prompt_text="hi", response="hey", status="ok", model="m", regenerated_from="a"
    )
    assert ask_again([]) is None
    retry = ask_again([old, cut])
    assert retry is not None and (retry.label, retry.entry, retry.history) == ("Retry", cut, [old])
    regenerate = ask_again([old, again])
    assert regenerate is not None and regenerate.label == "Regenerate"
    assert superseded([old, again]) == {"a"}
    assert chat_messages([old, again], system_prompt=None, prompt="next") == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hey"},
        {"role": "user", "content": "next"},
    ]


def test_the_first_chunk_callback_fires_once_even_for_an_empty_stream():
    calls = []
    assert list(on_first_chunk(iter(["a", "b"]), lambda: calls.append(1))) == ["a", "b"]
    assert list(on_first_chunk(iter([]), lambda: calls.append(2))) == []
    assert calls == [1, 2]


def test_only_the_owner_may_rename_or_delete_a_conversation(sqlite_url):
    engine = get_engine(sqlite_url)
    conversation_id, [prompt_id] = _conversation(engine, 1)
    cast_vote(engine, prompt_id=prompt_id, user_id="bob", value=1)
    conversation = get_conversation(engine, conversation_id=conversation_id)
    assert can_edit_conversation(conversation, "alice")
    assert not can_edit_conversation(conversation, "bob")
    assert not can_edit_conversation(conversation, "Alice")  # user ids are exact
    assert can_edit_conversation(None, "bob")  # a chat not started yet is the visitor's own

    with pytest.raises(NotOwnerError, match=r"only 'alice', who started conversation .* may rename it"):
        rename_conversation(engine, conversation_id=conversation_id, title="Bob's now", user_id="bob")
    with pytest.raises(NotOwnerError, match=r"only 'alice', who started conversation .* may delete it"):
        delete_conversation(engine, conversation_id=conversation_id, user_id="bob")
    assert get_conversation(engine, conversation_id=conversation_id).title is None
    assert [e.vote for e in load_chat(engine, conversation_id=conversation_id, user_id="bob")] == [1]

    rename_conversation(engine, conversation_id=conversation_id, title="Mine", user_id="alice")
    assert get_conversation(engine, conversation_id=conversation_id).title == "Mine"
    delete_conversation(engine, conversation_id=conversation_id, user_id="alice")
    with pytest.raises(NotFoundError):
        get_conversation(engine, conversation_id=conversation_id)


def _client_refuses_others_and_lets_the_owner(alice: Bilan) -> None:
    conversation_id = alice.start_conversation("Shared")
    bob = alice.with_identity(user_id="bob")
    with pytest.raises(NotOwnerError, match=r"only 'alice', who started .* may rename it \(you are 'bob'\)"):
        bob.rename_conversation(conversation_id, "Bob's now")
    with pytest.raises(NotOwnerError, match=r"only 'alice', who started .* may delete it"):
        bob.delete_conversation(conversation_id)
    assert bob.get_conversation(conversation_id).title == "Shared"  # anyone may still read it
    assert alice.rename_conversation(conversation_id, "Mine").title == "Mine"
    alice.delete_conversation(conversation_id)
    with pytest.raises(NotFoundError):
        alice.get_conversation(conversation_id)


def test_a_local_client_changes_only_its_own_users_conversations(bilan):
    _client_refuses_others_and_lets_the_owner(bilan)


@pytest.mark.postgres
def test_a_server_mode_client_changes_only_its_own_users_conversations(server_project, live_server):
    alice = server_client(server_project.key, live_server.url, user_id="alice")
    try:
        _client_refuses_others_and_lets_the_owner(alice)
    finally:
        alice.close()


def test_load_chat_reads_only_the_newest_turns_when_asked(sqlite_url):
    engine = get_engine(sqlite_url)
    for number in range(5):
        add_turn(engine, conversation_id="c1", prompt_text=f"q{number}", created_ms=1_000 + number)
    newest = load_chat(engine, conversation_id="c1", user_id="alice", recent=2)
    assert [entry.prompt_text for entry in newest] == ["q3", "q4"]
    assert len(load_chat(engine, conversation_id="c1", user_id="alice", recent=50)) == 5
