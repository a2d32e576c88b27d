"""The Playground's conversations in server mode: /api/conversations, the client's reads, and the page.

A real uvicorn server on PostgreSQL, real server-mode clients (outbox → /api/events), and the real app
in AppTest with its model calls going to the loopback OpenAI-compatible server.
"""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from bilan_core.client.bilan import Bilan
from bilan_core.clock import now_ms
from bilan_core.errors import NotFoundError
from bilan_core.server.api_keys import create_key
from bilan_core.settings import load_settings
from bilan_core.store.models import Conversation, Turn, Vote
from tests.app_support import clear_app_caches, new_app, rows
from tests.fixtures.openai_server import DEFAULT_ANSWER
from tests.helpers import server_client

pytestmark = pytest.mark.postgres


def fill(client: Bilan, now: int) -> tuple[str, list[str]]:
    """A conversation of three answered turns, the first liked with a comment, the second disliked."""
    conversation_id = client.start_conversation("Trip to Lyon")
    prompt_ids = []
    for index, question in enumerate(("Where?", "When?", "How?")):
        prompt_id = str(uuid.uuid4())
        client.record_turn(
            Turn(
                prompt_id=prompt_id,
                user_id=client.user_id,
                model="gpt-4o",
                conversation_id=conversation_id,
                prompt_text=question,
                response=f"Answer {index}",
                status="ok",
                prompt_tokens=10 + index,
                completion_tokens=20,
                latency_ms=100.0,
                created_ms=now + index,
            )
        )
        prompt_ids.append(prompt_id)
    client.vote(prompt_ids[0], 1, "spot on")
    client.vote(prompt_ids[1], -1)
    client.vote(prompt_ids[1], 1, user_id="bob")  # someone else's vote never shows as alice's
    return conversation_id, prompt_ids


@pytest.fixture
def alpha(server_project, live_server):
    """A server-mode client of project alpha holding one conversation; (client, conversation, prompts)."""
    client = server_client(server_project.key, live_server.url, user_id="alice")
    conversation_id, prompt_ids = fill(client, now_ms())
    yield client, conversation_id, prompt_ids
    client.close()


def test_the_client_reads_back_what_it_sent_through_the_server(alpha, postgres_url):
    client, conversation_id, prompt_ids = alpha
    [listed] = client.list_conversations()  # the reads flush the outbox first
    assert (listed.conversation_id, listed.title) == (conversation_id, "Trip to Lyon")
    assert listed.user_id == "alice"
    assert client.get_conversation(conversation_id) == listed
    chat = client.load_chat(conversation_id)
    assert [(e.prompt_id, e.prompt_text, e.response, e.vote, e.comment) for e in chat] == [
        (prompt_ids[0], "Where?", "Answer 0", 1, "spot on"),
        (prompt_ids[1], "When?", "Answer 1", -1, None),
        (prompt_ids[2], "How?", "Answer 2", None, None),
    ]

    # the same calls on the local backend (project 0 of the same database) give the same chat
    local = Bilan(load_settings(database_url=postgres_url, user_id="alice", telemetry=False))
    local_id, local_prompts = fill(local, now_ms())
    renamed = {local_id: conversation_id, **dict(zip(local_prompts, prompt_ids, strict=True))}
    local_chat = [dataclasses.replace(e, prompt_id=renamed[e.prompt_id]) for e in local.load_chat(local_id)]
    assert local_chat == chat
    assert [c.title for c in local.list_conversations()] == [listed.title]

    assert client.rename_conversation(conversation_id, "  Lyon\n in May ").title == "Lyon in May"
    assert client.get_conversation(conversation_id).title == "Lyon in May"
    client.delete_conversation(conversation_id)
    assert client.list_conversations() == [] and client.load_chat(conversation_id) == []
    with pytest.raises(NotFoundError, match="no conversation has id"):
        client.get_conversation(conversation_id)
    with pytest.raises(NotFoundError):
        client.delete_conversation(conversation_id)
    with pytest.raises(ValueError, match="must not be empty"):
        client.rename_conversation(conversation_id, "   ")
    with pytest.raises(ValueError, match="limit"):
        client.list_conversations(limit=0)


def test_one_project_never_reads_or_changes_another_ones_conversations(alpha, server_project, live_server):
    client, conversation_id, _ = alpha
    assert client.flush(timeout=10)
    stranger = create_key(server_project.engine, project="beta")
    beta = server_client(stranger.key, live_server.url, user_id="alice")
    try:
        assert beta.list_conversations() == []
        assert beta.load_chat(conversation_id) == []
        for attempt in (
            lambda: beta.get_conversation(conversation_id),
            lambda: beta.rename_conversation(conversation_id, "mine now"),
            lambda: beta.delete_conversation(conversation_id),
        ):
            with pytest.raises(NotFoundError):
                attempt()
    finally:
        beta.close()
    http, headers = server_project.client, server_project.headers(stranger.key)
    assert http.get("/api/conversations", params={"user_id": "alice"}, headers=headers).json() == []
    gone = http.delete(f"/api/conversations/{conversation_id}", params={"user_id": "alice"}, headers=headers)
    assert gone.status_code == 404
    [kept] = client.list_conversations()
    assert kept.title == "Trip to Lyon"
    assert len(client.load_chat(conversation_id)) == 3
    assert len(rows(server_project.engine, Vote)) == 3


def test_conversation_endpoints_refuse_missing_keys_and_bad_input(alpha, server_project):
    client, conversation_id, _ = alpha
    assert client.flush(timeout=10)
    http, headers = server_project.client, server_project.headers()
    path = f"/api/conversations/{conversation_id}"
    calls = [
        ("GET", "/api/conversations?user_id=alice", None),
        ("GET", path, None),
        ("GET", f"{path}/chat?user_id=alice", None),
        ("PATCH", f"{path}?user_id=alice", {"title": "x"}),
        ("DELETE", f"{path}?user_id=alice", None),
    ]
    for method, url, body in calls:
        for bad in ({}, server_project.headers("bk_not-a-real-key")):
            reply = http.request(method, url, json=body, headers=bad)
            assert reply.status_code == 401, (method, url, reply.text)
            assert reply.json()["error"] in ("Missing API key", "Invalid API key")
    assert len(rows(server_project.engine, Turn)) == 3  # nothing deleted by the refused calls

    owner, other = {"user_id": "alice"}, {"user_id": "bob"}
    blank = http.patch(path, params=owner, json={"title": " \n "}, headers=headers)
    assert blank.status_code == 400 and "must not be empty" in blank.json()["error"]
    assert http.patch(path, params=owner, json={"title": "a\x00b"}, headers=headers).status_code == 422
    assert http.patch(path, params=owner, json={}, headers=headers).status_code == 422
    assert http.patch(path, json={"title": "x"}, headers=headers).status_code == 422  # user_id is required
    assert http.delete(path, headers=headers).status_code == 422
    for refused in (
        http.patch(path, params=other, json={"title": "bob's now"}, headers=headers),
        http.delete(path, params=other, headers=headers),
    ):
        assert refused.status_code == 403 and "only 'alice'" in refused.json()["error"], refused.text
    assert http.get("/api/conversations", headers=headers).status_code == 422  # user_id is required
    assert http.get("/api/conversations?user_id=alice&limit=0", headers=headers).status_code == 422
    assert http.get(f"{path}/chat", headers=headers).status_code == 422
    missing = http.get("/api/conversations/no-such-id", headers=headers)
    assert missing.status_code == 404 and "no-such-id" in missing.json()["error"]
    [stored] = rows(server_project.engine, Conversation)
    assert stored.title == "Trip to Lyon"

    chat = http.get(f"{path}/chat", params={"user_id": "bob"}, headers=headers).json()
    assert [entry["vote"] for entry in chat] == [None, 1, None]
    assert http.delete(path, params=owner, headers=headers).json() == {"deleted": conversation_id}
    assert rows(server_project.engine, Turn) == [] and rows(server_project.engine, Vote) == []


@pytest.fixture
def server_app(server_project, live_server, openai_server, monkeypatch):
    """The app in server mode (this project's key) with its model calls going to the loopback server."""
    monkeypatch.setenv("BILAN_MODE", "server")
    monkeypatch.setenv("BILAN_ENDPOINT", live_server.url)
    monkeypatch.setenv("BILAN_API_KEY", server_project.key)
    monkeypatch.setenv("BILAN_BATCH_INTERVAL", "0.05")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    monkeypatch.setenv("BILAN_MAX_RETRIES", "0")
    clear_app_caches()
    yield server_project.engine
    clear_app_caches()


def ran(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_playground_chats_votes_and_reopens_in_server_mode(server_app):
    engine = server_app
    at = ran(new_app().run())
    ran(at.chat_input[0].set_value("What is Bilan?").run())
    assert at.chat_message[1].markdown[0].value == DEFAULT_ANSWER
    [conversation] = rows(engine, Conversation)  # stored by the server, not in a local database
    assert conversation.title == "What is Bilan?"
    assert at.query_params["c"] == conversation.conversation_id

    [widget] = at.get("feedback")
    ran(widget.set_value(1).run())
    [turn] = rows(engine, Turn)
    assert [(v.prompt_id, v.value) for v in rows(engine, Vote)] == [(turn.prompt_id, 1)]
    assert [w.value for w in at.get("feedback")] == [1]

    reopened = new_app()
    reopened.query_params["c"] = conversation.conversation_id
    ran(reopened.run())
    assert [m.value for m in reopened.chat_message[1].markdown] == [DEFAULT_ANSWER]
    assert [w.value for w in reopened.get("feedback")] == [1]
    listed = reopened.radio(key="playground_conversation_list")
    assert listed.value == conversation.conversation_id and listed.options[0].startswith("What is Bilan?  \n")

    ran(reopened.text_input(key="playground_rename_title").input("Renamed on the server").run())
    ran(reopened.button(key="playground_rename_save").click().run())
    assert [c.title for c in rows(engine, Conversation)] == ["Renamed on the server"]
    renamed = reopened.radio(key="playground_conversation_list").options[0]
    assert renamed.startswith("Renamed on the server  \n")
    ran(reopened.button(key="playground_delete_confirm").click().run())
    assert rows(engine, Conversation) == [] and rows(engine, Turn) == [] and rows(engine, Vote) == []
    assert not reopened.chat_message and "c" not in reopened.query_params


def test_a_link_to_another_projects_conversation_is_unknown_in_server_mode(
    server_app, server_project, live_server
):
    other = create_key(server_project.engine, project="beta")
    beta = server_client(other.key, live_server.url, user_id="anonymous")
    try:
        foreign = beta.start_conversation("beta's chat")
        assert beta.get_conversation(foreign).title == "beta's chat"
    finally:
        beta.close()
    at = new_app()
    at.query_params["c"] = foreign
    ran(at.run())
    assert any("No conversation has the id" in w.value for w in at.warning)
    assert "c" not in at.query_params
    assert any(caption.value == "No conversation yet." for caption in at.sidebar.caption)


def test_playground_feedback_is_safe_to_change_in_server_mode(server_app):
    engine = server_app
    at = ran(new_app().run())
    ran(at.chat_input[0].set_value("What is Bilan?").run())
    [turn] = rows(engine, Turn)
    box = f"playground_comment_{turn.prompt_id}"
    ran(at.button(key=f"playground_comment_add_{turn.prompt_id}").click().run())
    ran(at.text_area(key=box).input("Too long").run())
    ran(at.get("feedback")[0].set_value(0).run())  # the draft typed before the vote goes with it
    assert [(v.value, v.comment) for v in rows(engine, Vote)] == [(-1, "Too long")]
    ran(at.get("feedback")[0].set_value(1).run())  # flipped: the comment stays
    assert [(v.value, v.comment) for v in rows(engine, Vote)] == [(1, "Too long")]
    assert at.text_area(key=box).value == "Too long"
