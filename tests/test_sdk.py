"""The module-level API and the Bilan client: init, defaults, side-by-side clients, events, conversations."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

import bilan_core as bilan
from bilan_core import Bilan, NotFoundError, load_settings
from bilan_core.store.conversations import (
    delete_conversation,
    get_conversation,
    list_conversations,
    rename_conversation,
)
from bilan_core.store.models import Event, Turn, Vote
from tests.helpers import add_turn


def test_init_makes_the_default_client_used_by_the_module_functions(sqlite_url: str) -> None:
    client = bilan.init(mode="local", user_id="alice", database_url=sqlite_url)
    assert bilan.get_client() is client
    prompt_id = add_turn(client.engine)
    bilan.vote(prompt_id, 1, "Great response!")
    assert bilan.get_stats().trust_score == 1.0
    assert bilan.get_prompt_stats(prompt_id).total_votes == 1
    assert bilan.clear_vote(prompt_id) is True
    assert bilan.get_stats().total_votes == 0


def test_the_default_client_is_made_from_the_environment_when_init_was_not_called(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    monkeypatch.setattr("bilan_core.api._default", None)
    monkeypatch.setenv("USER_ID", "from-env")
    monkeypatch.setenv("BILAN_DATABASE_URL", sqlite_url)
    assert bilan.get_client().user_id == "from-env"


def test_several_clients_live_side_by_side(tmp_path: object, sqlite_url: str) -> None:
    alice = Bilan(load_settings(database_url=sqlite_url, user_id="alice"))
    other_url = sqlite_url.replace("test.db", "other.db")
    bob = Bilan(load_settings(database_url=other_url, user_id="bob"))
    prompt_id = add_turn(alice.engine)
    alice.vote(prompt_id, 1)
    assert (alice.get_stats().total_votes, bob.get_stats().total_votes) == (1, 0)
    carol = alice.with_identity(user_id="carol", team_session="friday-review")
    carol.vote(prompt_id, -1)
    with alice.engine.connect() as connection:
        rows = connection.execute(select(Vote.user_id, Vote.value, Vote.team_session).order_by(Vote.id)).all()
    assert [tuple(row) for row in rows] == [("alice", 1, None), ("carol", -1, "friday-review")]
    assert alice.get_stats(team_session="friday-review").total_votes == 1


def test_track_stores_a_custom_event_with_its_properties(bilan: Bilan) -> None:
    event_id = bilan.track("regeneration_requested", {"conversation_id": "c1", "reason": "too_long"})
    with bilan.engine.connect() as connection:
        event = connection.execute(select(Event)).one()
    assert event.event_id == event_id and event_id.startswith("evt_")
    assert (event.event_type, event.user_id, event.conversation_id) == (
        "regeneration_requested",
        "alice",
        "c1",
    )
    assert event.properties == {"conversation_id": "c1", "reason": "too_long"}


@pytest.mark.parametrize(
    ("event_type", "properties", "message"),
    [
        ("", None, "event_type must be a non-empty string"),
        (None, None, "event_type must be a non-empty string"),
        ("x" * 101, None, "longer than 100"),
        ("ok", ["not", "a", "dict"], "properties must be a dict"),
        ("ok", {"when": object()}, "JSON-serialisable"),
        ("ok", {"score": float("nan")}, "JSON-serialisable"),
        ("ok", {"score": float("inf")}, "JSON-serialisable"),
        ("ok", {"conversation_id": 5}, "properties.conversation_id must be a string of 1 to 200"),
        ("ok", {"conversation_id": "c" * 201}, "properties.conversation_id must be a string"),
    ],
)
def test_track_refuses_bad_input_and_stores_nothing(
    bilan: Bilan, event_type: object, properties: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        bilan.track(event_type, properties)  # type: ignore[arg-type]
    with bilan.engine.connect() as connection:
        assert connection.execute(select(Event)).all() == []


def test_conversations_start_end_rename_list_and_delete_with_their_turns_and_votes(bilan: Bilan) -> None:
    conversation_id = bilan.start_conversation("  What is   2+2? ")
    kept = bilan.start_conversation("Another one")
    prompt_id = add_turn(bilan.engine, conversation_id=conversation_id)
    bilan.vote(prompt_id, 1)
    assert get_conversation(bilan.engine, conversation_id=conversation_id).title == "What is 2+2?"
    rename_conversation(bilan.engine, conversation_id=conversation_id, title="Arithmetic")
    bilan.end_conversation(conversation_id, "completed")
    ended = get_conversation(bilan.engine, conversation_id=conversation_id)
    assert (ended.title, ended.status, ended.ended_ms is not None) == ("Arithmetic", "completed", True)
    assert {c.conversation_id for c in list_conversations(bilan.engine, user_id="alice")} == {
        conversation_id,
        kept,
    }
    delete_conversation(bilan.engine, conversation_id=conversation_id)
    with bilan.engine.connect() as connection:
        assert connection.execute(select(Turn)).all() == []
        assert connection.execute(select(Vote)).all() == []
    assert [c.conversation_id for c in list_conversations(bilan.engine, user_id="alice")] == [kept]


def test_conversation_errors_are_clear(bilan: Bilan) -> None:
    with pytest.raises(NotFoundError, match="no conversation has id 'nope'"):
        bilan.end_conversation("nope")
    conversation_id = bilan.start_conversation("Title")
    with pytest.raises(ValueError, match="must not be empty"):
        rename_conversation(bilan.engine, conversation_id=conversation_id, title="   ")
    assert get_conversation(bilan.engine, conversation_id=conversation_id).title == "Title"


def test_starting_a_conversation_with_a_taken_id_is_a_clear_error_and_keeps_the_first(bilan: Bilan) -> None:
    bilan.start_conversation("First", conversation_id="c-1")
    with pytest.raises(ValueError, match="a conversation with id 'c-1' already exists"):
        bilan.start_conversation("Second", conversation_id="c-1")
    assert get_conversation(bilan.engine, conversation_id="c-1").title == "First"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda client: client.start_conversation(42), "title must be text, got int"),
        (lambda client: client.start_conversation(conversation_id="  "), "conversation_id must be"),
        (lambda client: client.start_conversation(conversation_id="c" * 201), "the limit is 200"),
        (lambda client: client.end_conversation("kept", 5), "status must be a non-empty string"),
        (lambda client: client.end_conversation("kept", " "), "status must be a non-empty string"),
        (lambda client: client.end_conversation("kept", "x" * 41), "status is longer than 40"),
        (lambda client: client.end_conversation(None), "conversation_id must be a non-empty string"),
    ],
)
def test_bad_conversation_input_is_refused_and_stored_conversations_are_unchanged(
    bilan: Bilan, call: Any, message: str
) -> None:
    bilan.start_conversation("Kept", conversation_id="kept")
    with pytest.raises(ValueError, match=message):
        call(bilan)
    conversations = list_conversations(bilan.engine, user_id="alice")
    assert [(c.conversation_id, c.title, c.status) for c in conversations] == [("kept", "Kept", "active")]


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        ({"user_id": ""}, "user_id must be a non-empty string"),
        ({"user_id": None}, "user_id must be a non-empty string, got None"),
        ({"user_id": "bob", "team_session": "  "}, "team_session must be a non-empty string"),
    ],
)
def test_with_identity_refuses_a_blank_user_or_team_session(
    bilan: Bilan, identity: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        bilan.with_identity(**identity)  # type: ignore[arg-type]
    assert (bilan.user_id, bilan.team_session) == ("alice", None)
