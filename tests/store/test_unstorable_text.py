"""Text no database can store (a lone surrogate, a NUL) is refused with a clear ValueError at every public
text entry, by one rule (limits.check_storable), before anything is stored or a model is asked.

Before, a lone surrogate raised a raw UnicodeEncodeError from the SQLite INSERT (after the model answered,
for a chat call), and track() stored a NUL in properties locally that a server refuses.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from bilan_core.experiments.comparisons import compare
from bilan_core.settings import load_settings
from bilan_core.store.conversations import get_conversation
from bilan_core.store.models import Event, Turn, Vote
from tests.chat_helpers import USER, client_for
from tests.helpers import add_turn, server_client

LONE = "half of a pair: \ud83d"
SURROGATE = r"lone surrogate \(U\+D83D"


@pytest.fixture
def client(openai_server, sqlite_url):
    bilan = client_for(openai_server, sqlite_url)
    yield bilan
    bilan.close()


def stored(client: Any) -> tuple[list[Any], ...]:
    with Session(client.engine) as session:
        return tuple(list(session.exec(select(table)).all()) for table in (Vote, Turn, Event))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c, pid: c.vote(pid, -1, LONE), "comment contains a " + SURROGATE),
        (lambda c, pid: c.vote(pid, -1, user_id=LONE), "user_id contains a " + SURROGATE),
        (lambda c, pid: c.create_chat_completion([{"role": "user", "content": LONE}]), r"messages\[0\]"),
        (lambda c, pid: c.create_streaming_chat(USER, variant=LONE), "variant contains a " + SURROGATE),
        (lambda c, pid: c.track("click", {"label": LONE}), "properties contains a " + SURROGATE),
        (lambda c, pid: c.track("click", {LONE: 1}), "properties contains a " + SURROGATE),
        (lambda c, pid: c.track("click", {"nested": ["ok", "a\x00b"]}), "properties contains a NUL"),
        (lambda c, pid: compare(c, LONE, "gpt-4o", "gpt-4o-mini"), "the prompt contains a " + SURROGATE),
    ],
)
def test_unstorable_text_is_a_clear_value_error_before_anything_is_stored_or_asked(
    client, openai_server, call: Any, message: str
) -> None:
    prompt_id = add_turn(client.engine)
    before = stored(client)
    with pytest.raises(ValueError, match=message):
        call(client, prompt_id)
    assert stored(client) == before
    assert openai_server.chat_requests == []


def test_a_user_id_setting_with_a_lone_surrogate_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="USER_ID contains a " + SURROGATE):
        load_settings(user_id="ada" + LONE)


def test_a_title_drops_lone_surrogates_and_an_answer_stores_them_as_replacement_characters(
    client, openai_server
) -> None:
    conversation_id = client.start_conversation("a" + LONE)
    assert get_conversation(client.engine, conversation_id=conversation_id).title == "ahalf of a pair:"
    openai_server.configure(answer="one \ud83d two")  # sent as the JSON escape \ud83d
    assert client.create_chat_completion(USER).content == "one \ud83d two"
    with Session(client.engine) as session:
        assert session.exec(select(Turn.response)).one() == "one \ufffd two"


def test_track_refuses_a_nul_in_properties_in_server_mode_too(server_project, live_server) -> None:
    remote = server_client(server_project.key, live_server.url)
    try:
        with pytest.raises(ValueError, match="properties contains a NUL"):
            remote.track("click", {"label": "a\x00b"})
        assert remote.backend.pending() == 0
    finally:
        remote.close()
