"""Forgetting a user and retention on a real server (PostgreSQL): through a server-mode client and its
outbox with Bilan's event format, ``POST /api/users/forget`` and its refusals, and the scheduled prune."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bilan_core.clock import MS_PER_DAY, now_ms
from bilan_core.server.api_keys import create_key
from bilan_core.server.app import create_app
from bilan_core.settings import load_settings
from bilan_core.store.engine import get_engine
from bilan_core.store.models import TURNS, Turn
from bilan_core.store.removal import RemovalReport
from tests.helpers import server_client
from tests.privacy_support import seed_user, stored_text

pytestmark = pytest.mark.postgres


def outbox_text(path: Path) -> bytes:
    """The outbox file and its write-ahead log, byte for byte."""
    return b"".join(one.read_bytes() for one in (path, path.with_name(path.name + "-wal")) if one.exists())


def test_forget_through_the_server_leaves_nothing_on_it_or_in_the_outboxes(
    server_project, live_server, tmp_path
):
    sending, queueing = tmp_path / "sending.db", tmp_path / "queueing.db"
    client = server_client(server_project.key, live_server.url, user_id="xavier", outbox_path=sending)
    yolanda = client.with_identity(user_id="yolanda")
    conversation = client.start_conversation("XAVIERTEXT trip")
    answer = client.create_chat_completion(
        [{"role": "user", "content": "XAVIERTEXT where?"}], conversation_id=conversation
    )
    client.vote(answer.prompt_id, 1, "XAVIERTEXT thanks")
    yolanda.vote(answer.prompt_id, -1, "quoting XAVIERTEXT")
    client.track("opened", {"where": "XAVIERTEXT page"})
    kept = yolanda.create_chat_completion([{"role": "user", "content": "YOLANDA hello"}])
    yolanda.vote(kept.prompt_id, 1, "YOLANDA fine")
    assert client.flush()
    # A second client sends only when flushed: what is queued when it forgets is known exactly.
    later = server_client(
        server_project.key, live_server.url, user_id="xavier", batch_interval=3600, outbox_path=queueing
    )
    queued = later.create_chat_completion([{"role": "user", "content": "XAVIERTEXT still queued"}])
    later.with_identity(user_id="yolanda").vote(queued.prompt_id, 1, "QUEUEDVOTE on his answer")
    later.with_identity(user_id="yolanda").track("stays", {"note": "YOLANDA queued"})
    assert later.pending() == 4

    report = later.forget_user("xavier")

    # On the server: the conversation_started, both turn events, his vote, hers on his turn, his event.
    assert report == RemovalReport(turns=1, votes=2, comments=2, events=6, conversations=1, outbox_events=3)
    assert later.pending() == 1 and later.flush()
    assert later.forget_user("xavier") == RemovalReport(), "forgetting again found more"
    found = [stored_text(server_project.engine), outbox_text(sending), outbox_text(queueing)]
    for trace in (b"XAVIERTEXT", b"QUEUEDVOTE", b"xavier"):
        assert not [where for where in found if trace in where], trace
    assert b"YOLANDA queued" in found[0]
    stats = later.get_stats()
    assert (stats.total_votes, stats.positive_votes) == (1, 1)
    client.close()
    later.close()


def test_the_forget_endpoint_refuses_bad_input_and_stays_in_its_project(server_project):
    beta = create_key(server_project.engine, project="beta")
    for key in (server_project.key, beta.key):
        events = turn_events_of("xavier", "XAVIERTEXT")
        assert server_project.post({"events": events}, key=key).json()["stats"]["processed"] == 2
    http, headers = server_project.client, server_project.headers()
    assert http.post("/api/users/forget", json={"user_id": "xavier"}).status_code == 401
    assert (
        http.post(
            "/api/users/forget", json={"user_id": "xavier"}, headers=server_project.headers("bl_nope")
        ).status_code
        == 401
    )
    blank = http.post("/api/users/forget", json={"user_id": "  "}, headers=headers)
    assert blank.status_code == 400 and "user_id" in blank.json()["error"]
    for body in (
        {},
        {"user_id": "a\x00b"},
        {"user_id": "x" * 201},
        {"user_id": 5},
        {"user_id": "x", "more": 1},
    ):
        assert http.post("/api/users/forget", json=body, headers=headers).status_code == 422, body
    assert http.post("/api/users/forget", content=b"{not json", headers=headers).status_code == 422
    assert turn_count(server_project.engine) == 2, "a refused request deleted something"

    gone = http.post("/api/users/forget", json={"user_id": "xavier"}, headers=headers)
    assert gone.status_code == 200 and gone.json()["turns"] == 1 and gone.json()["events"] == 2
    assert turn_count(server_project.engine) == 1, "project beta's turn of the same user stays"
    again = http.post("/api/users/forget", json={"user_id": "xavier"}, headers=headers).json()
    assert RemovalReport.model_validate(again) == RemovalReport()


def turn_events_of(user_id: str, tag: str) -> list[dict[str, object]]:
    from bilan_core.remote.wire_events import turn_events

    turn = Turn(
        prompt_id=f"{tag}-turn",
        user_id=user_id,
        model="gpt-4o",
        prompt_text=f"{tag} prompt",
        response=f"{tag} answer",
        latency_ms=50.0,
        created_ms=now_ms(),
    )
    return turn_events(turn)


def turn_count(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(TURNS)).scalar_one()


def test_the_server_prunes_on_a_schedule_when_retention_is_set(postgres_url):
    engine = get_engine(postgres_url)
    seed_user(engine, user_id="ann", tag="OLDTEXT", at_ms=now_ms() - 40 * MS_PER_DAY, turns=2)
    seed_user(engine, user_id="ann", tag="RECENT", at_ms=now_ms() - MS_PER_DAY, turns=2)
    app = create_app(load_settings(database_url=postgres_url, retention_days=30, rate_limit=0))
    with TestClient(app):
        deadline = time.monotonic() + 20
        while turn_count(engine) > 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert turn_count(engine) == 2
    assert b"OLDTEXT" not in stored_text(engine) and b"RECENT" in stored_text(engine)
