"""Done-when: no text beyond the capture level reaches storage (database files, PostgreSQL, the outbox)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
from bilan_core.store.engine import dispose_engines
from bilan_core.store.models import Turn
from tests.fixtures.bilan_server import LiveServer, ServerProject, free_port
from tests.helpers import server_client
from tests.privacy.storage_search import files_text, leaks, postgres_text

USER = "alice.unique-user-7731"
EMAIL, CARD = "jane.doe@example.com", "4111 1111 1111 1111"
WORD = "zanzibar"  # a plain word: kept when text is kept, gone when it is not
PROMPT = f"Mail {EMAIL} about card {CARD} {WORD}"
COMMENT = f"wrong, call me +44 20 7946 0958 {WORD}"
TITLE = f"Refund for {EMAIL}"
PII = [EMAIL, CARD, "+44 20 7946 0958"]


def _use(client: Bilan) -> str:
    """A conversation, a turn, a voted comment and an event, each with personal data; the turn's id."""
    conversation = client.start_conversation(TITLE)
    reply = client.create_chat_completion(
        messages=[{"role": "user", "content": PROMPT}], conversation_id=conversation
    )
    client.vote(reply.prompt_id, -1, COMMENT)
    client.track("feedback_form", {"comment": COMMENT, "email": EMAIL, "page": "checkout"})
    return reply.prompt_id


def _expected_leaks(level: str) -> tuple[list[str], list[str]]:
    """What must be absent and what must still be there at a level."""
    if level == "full":
        return [], [*PII, WORD, USER]
    if level == "sanitized":
        return PII, [WORD, USER]
    if level == "metadata":
        return [*PII, WORD], [USER]
    return [*PII, WORD, USER], []


@pytest.mark.parametrize("level", ["full", "sanitized", "metadata", "none"])
def test_local_sqlite_keeps_nothing_beyond_the_level(tmp_path: Path, level: str) -> None:
    database = tmp_path / "capture.db"
    client = Bilan(
        load_settings(database_url=f"sqlite:///{database}", user_id=USER, capture=level, telemetry=False)
    )
    prompt_id = _use(client)
    with Session(client.engine) as session:
        turn = session.exec(select(Turn).where(Turn.prompt_id == prompt_id)).one()
    client.close()
    dispose_engines()
    absent, present = _expected_leaks(level)
    stored = files_text(database)
    # everything else written near it too: the write-behind journals, the data folder's files
    written = files_text(*(path for path in tmp_path.rglob("*") if path.is_file()))
    assert leaks(written, absent) == []
    assert leaks(stored, absent) == []
    assert leaks(stored, present) == present
    assert (turn.capture, turn.prompt_chars) == (level, len(PROMPT))
    assert turn.response_chars and turn.response_chars > len(PROMPT)  # the demo model repeats the prompt


@pytest.mark.parametrize("level", ["sanitized", "none"])
def test_local_postgres_keeps_nothing_beyond_the_level(postgres_url: str, level: str) -> None:
    client = Bilan(load_settings(database_url=postgres_url, user_id=USER, capture=level, telemetry=False))
    _use(client)
    client.close()
    absent, present = _expected_leaks(level)
    stored = postgres_text(postgres_url)
    assert leaks(stored, absent) == []
    assert leaks(stored, present) == present


@pytest.mark.parametrize("level", ["full", "metadata"])
def test_the_outbox_and_the_server_keep_nothing_beyond_the_level(
    server_project: ServerProject, postgres_url: str, level: str
) -> None:
    server = LiveServer(server_project.app, port=free_port())  # down at first: the events wait in the outbox
    client = server_client(server_project.key, server.url, user_id=USER, capture=level)
    absent, present = _expected_leaks(level)
    try:
        _use(client)
        assert client.pending() == 5  # conversation_started, turn_started, turn_completed, vote_cast, event
        queued = files_text(client.backend.outbox.path)
        assert leaks(queued, absent) == []
        assert leaks(queued, present) == present
        server.start()
        assert client.flush(timeout=20)
    finally:
        client.close()
    server.stop()
    stored = postgres_text(postgres_url)
    assert leaks(stored, absent) == []
    assert leaks(stored, present) == present


def test_at_none_a_user_is_stored_as_a_stable_keyed_hash_and_can_be_forgotten(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    client = Bilan(load_settings(database_url=url, user_id=USER, capture="none", telemetry=False))
    _use(client)
    with Session(client.engine) as session:
        stored_users = set(session.exec(select(Turn.user_id)).all())
    assert len(stored_users) == 1 and next(iter(stored_users)).startswith("u_")
    assert [summary.title for summary in client.list_conversations()] == [None]  # the user sees their own
    again = Bilan(load_settings(database_url=url, user_id=USER, capture="none", telemetry=False))
    assert again.capture.user(USER) in stored_users  # the key file keeps the hash stable across clients
    assert (tmp_path / "bilan-data" / "bilan-capture.key").stat().st_mode & 0o077 == 0
    assert client.get_stats(user_id=USER).total_votes == 1  # a filter by user id hashes it as stored
    report = client.forget_user(USER)
    assert (report.turns, report.votes, report.conversations, report.events) == (1, 1, 1, 1)
