"""A project's maximum capture level, applied to events in Bilan's own format and to our client's."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import Session, select

from bilan_core.cli import main
from bilan_core.server.api_keys import create_key, list_keys, set_project_capture
from bilan_core.store.models import Event, Turn, Vote
from tests.fixtures.bilan_server import ServerProject
from tests.helpers import server_client
from tests.privacy.storage_search import leaks, postgres_text

USER = "shopper-4471@example.org"
PROMPT = "My card is 4111 1111 1111 1111, ship to jane.doe@example.com quietly"
ANSWER = "Done: jane.doe@example.com will get it, quietly"
COMMENT = "great, call +44 20 7946 0958 quietly"
ORIGINALS = [PROMPT, ANSWER, COMMENT, "4111 1111 1111 1111", "jane.doe@example.com", "+44 20 7946 0958"]


def sdk_events(prefix: str, prompt: str = PROMPT, answer: str = ANSWER) -> list[dict]:
    """A turn, a vote with a comment and conversation feedback as Bilan's TypeScript SDK sends them."""
    base = {"timestamp": 1_795_464_938_984, "userId": USER}
    turn = f"turn_{prefix}"
    started = {"turnId": turn, "startedAt": 1_795_464_938_984, "conversation_id": "c1"}
    completed = {"turnId": turn, "status": "success", "responseTime": 0.5, "conversation_id": "c1"}
    feedback = {"action_type": "feedback", "conversation_id": "c1", "value": 1, "comment": COMMENT}
    return [
        base
        | {"eventId": f"{prefix}1", "eventType": "turn_started", "promptText": prompt}
        | {"properties": started},
        base
        | {"eventId": f"{prefix}2", "eventType": "turn_completed", "promptText": prompt, "aiResponse": answer}
        | {"properties": completed},
        base
        | {"eventId": f"{prefix}3", "eventType": "vote_cast"}
        | {"properties": {"turn_id": turn, "value": 1, "comment": COMMENT}},
        base | {"eventId": f"{prefix}4", "eventType": "user_action", "properties": feedback},
    ]


def _turn(project: ServerProject, prompt_id: str) -> Turn:
    with Session(project.engine) as session:
        return session.exec(select(Turn).where(Turn.prompt_id == prompt_id)).one()


@pytest.mark.parametrize("level", ["metadata", "none"])
def test_bilan_sdk_events_are_lowered_to_the_project_level(server_project, postgres_url, level):
    set_project_capture(server_project.engine, project="alpha", capture=level)
    reply = server_project.post({"events": sdk_events("a")}).json()
    assert reply["stats"]["processed"] == 4
    assert reply["capture"]["level"] == level and reply["capture"]["lowered"] == 4
    stored = postgres_text(postgres_url)
    assert leaks(stored, ORIGINALS) == []
    assert (USER in stored) is (level == "metadata")
    turn = _turn(server_project, "turn_a")
    assert (turn.capture, turn.prompt_text, turn.response) == (level, None, None)
    assert (turn.prompt_chars, turn.response_chars) == (len(PROMPT), len(ANSWER))
    with Session(server_project.engine) as session:
        assert session.exec(select(Vote.comment, Vote.value)).one() == (None, 1)


def test_sanitized_project_redacts_and_full_project_keeps_the_text(server_project, postgres_url):
    set_project_capture(server_project.engine, project="alpha", capture="sanitized")
    reply = server_project.post(sdk_events("s")).json()
    assert reply["capture"]["lowered"] == 4
    turn = _turn(server_project, "turn_s")
    assert turn.prompt_text == "My card is [CARD], ship to [EMAIL] quietly"
    assert turn.capture == "sanitized"
    set_project_capture(server_project.engine, project="alpha", capture="full")
    reply = server_project.post(sdk_events("f")).json()
    assert "capture" not in reply
    assert (_turn(server_project, "turn_f").prompt_text, _turn(server_project, "turn_f").capture) == (
        PROMPT,
        "full",
    )


def test_bilan_sdk_markers_are_stored_as_what_they_are(server_project):
    marker = '[METADATA: {"length":42,"wordCount":8,"hasSpecialChars":true,"hash":"1a2b3c"}]'
    reply = server_project.post(sdk_events("m", prompt=marker, answer="Email [REDACTED] the report")).json()
    assert "capture" not in reply  # the SDK asked for less than the project allows
    turn = _turn(server_project, "turn_m")
    assert (turn.prompt_text, turn.prompt_chars, turn.capture) == (None, 42, "metadata")
    assert turn.response == "Email [REDACTED] the report"  # each text keeps the level it came at
    with Session(server_project.engine) as session:
        texts = session.exec(select(Event.prompt_text).where(Event.event_type == "turn_started")).all()
    assert texts == [None]  # not the marker, as if it were the user's words


def test_our_client_is_told_once_and_stores_the_lower_level(server_project, live_server, caplog):
    set_project_capture(server_project.engine, project="alpha", capture="metadata")
    client = server_client(server_project.key, live_server.url, user_id="bob", capture="full")
    try:
        assert client.capture_level() == "metadata"
        with caplog.at_level(logging.WARNING, logger="bilan_core.remote.connection"):
            for _ in range(2):
                reply = client.create_chat_completion(messages=[{"role": "user", "content": PROMPT}])
                assert client.flush(timeout=20)
        told = [record for record in caplog.records if "capture level" in record.getMessage()]
        assert len(told) == 1 and "'metadata'" in told[0].getMessage()
        assert client.backend.capture_notice is not None
    finally:
        client.close()
    turn = _turn(server_project, reply.prompt_id)
    assert (turn.capture, turn.prompt_text, turn.prompt_chars) == ("metadata", None, len(PROMPT))


def test_keys_commands_set_and_change_the_project_level(postgres_url, monkeypatch, capsys):
    monkeypatch.setenv("BILAN_DATABASE_URL", postgres_url)
    assert main(["keys", "create", "--project", "shop", "--capture", "sanitized"]) == 0
    assert "capture level sanitized" in capsys.readouterr().out
    assert main(["keys", "capture", "--project", "shop", "metadata"]) == 0
    assert "'metadata'" in capsys.readouterr().out
    from bilan_core.store.engine import get_engine

    assert [key.capture for key in list_keys(get_engine(postgres_url), project="shop")] == ["metadata"]
    assert main(["keys", "capture", "--project", "shop", "everything"]) == 2
    assert "unknown capture level 'everything'" in capsys.readouterr().err
    assert main(["keys", "capture", "--project", "nowhere", "none"]) == 2
    assert "no project is named 'nowhere'" in capsys.readouterr().err
    assert main(["keys", "create", "--project", "shop2", "--capture", "most"]) == 2
    assert list_keys(get_engine(postgres_url), project="shop2") == []  # refused before anything is made


def test_a_new_key_keeps_the_project_level(server_project):
    set_project_capture(server_project.engine, project="alpha", capture="none")
    assert create_key(server_project.engine, project="alpha").capture == "none"
    reply = server_project.client.get("/api/capture", headers=server_project.headers())
    assert reply.json() == {"max_capture": "none"}
