"""NUL characters (which PostgreSQL cannot store) are refused up front, on a real PostgreSQL database.

Before, each of these raised a raw psycopg DataError from the INSERT; for a chat call that was after the
model had answered, so the answer was lost.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from bilan_core.store.conversations import get_conversation
from bilan_core.store.models import Event, Turn, Vote
from tests.chat_helpers import USER, client_for
from tests.helpers import add_turn

pytestmark = pytest.mark.postgres
NUL = "before\x00after"
WITH_NUL_PART = [
    {"role": "system", "content": "ok"},
    {"role": "user", "content": [{"type": "text", "text": NUL}]},
]


@pytest.fixture
def client(openai_server, postgres_url):
    return client_for(openai_server, postgres_url)


def stored(client: Any) -> tuple[list[Any], list[Any], list[Any]]:
    with Session(client.engine) as session:
        votes = [(v.prompt_id, v.user_id, v.value, v.comment) for v in session.exec(select(Vote)).all()]
        turns = [t.prompt_id for t in session.exec(select(Turn)).all()]
        events = [e.event_type for e in session.exec(select(Event)).all()]
    return votes, turns, events


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c, pid: c.vote(pid, -1, NUL), "comment contains a NUL character"),
        (lambda c, pid: c.vote(pid, -1, user_id=NUL), "user_id contains a NUL character"),
        (lambda c, pid: c.track(NUL), "event_type contains a NUL character"),
        (lambda c, pid: c.start_conversation(conversation_id=NUL), "conversation_id contains a NUL"),
        (lambda c, pid: c.create_chat_completion([{"role": "user", "content": NUL}]), r"messages\[0\]"),
        (lambda c, pid: c.create_streaming_chat(WITH_NUL_PART), r"messages\[1\] contains a NUL"),
        (lambda c, pid: c.create_chat_completion(USER, variant=NUL), "variant contains a NUL character"),
    ],
)
def test_nul_characters_are_refused_before_anything_is_stored_or_asked(
    client, openai_server, call: Any, message: str
) -> None:
    prompt_id = add_turn(client.engine)
    client.vote(prompt_id, 1, "kept")
    before = stored(client)
    with pytest.raises(ValueError, match=message):
        call(client, prompt_id)
    assert stored(client) == before
    assert openai_server.chat_requests == []


def test_a_conversation_title_loses_its_nul_characters(client) -> None:
    conversation_id = client.start_conversation(NUL)
    assert get_conversation(client.engine, conversation_id=conversation_id).title == "beforeafter"


def test_a_nul_in_the_model_s_answer_is_returned_as_sent_and_stored_as_a_replacement_character(
    client, openai_server
) -> None:
    openai_server.configure(answer="one\x00two three")
    response = client.create_chat_completion(USER)
    streamed = client.create_streaming_chat(USER)
    text = "".join(streamed.stream)
    assert response.content == text == "one\x00two three"
    with Session(client.engine) as session:
        answers = [turn.response for turn in session.exec(select(Turn).order_by(Turn.id)).all()]
    assert answers == ["one\ufffdtwo three", "one\ufffdtwo three"]
