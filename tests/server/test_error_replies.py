"""Every refusal and failure answers ``{"error": ...}``: 422 summarised, 404/405, a locked SQLite 503, 500."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from bilan_core.server.api_keys import create_key
from bilan_core.server.app import create_app
from bilan_core.settings import load_settings

EVENT = {"eventId": "e1", "eventType": "custom", "userId": "a", "timestamp": 1_700_000_000_000}


@pytest.fixture
def sqlite_server(sqlite_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app = create_app(load_settings(database_url=sqlite_url, rate_limit=0))
    headers = {"Authorization": f"Bearer {create_key(app.state.engine, project='alpha').key}"}
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, headers


def test_a_422_is_an_error_sentence_that_never_echoes_the_input(sqlite_server):
    client, headers = sqlite_server
    reply = client.patch(
        "/api/conversations/c1", params={"user_id": "a"}, json={"title": "x" * 50_000}, headers=headers
    )
    assert reply.status_code == 422
    assert reply.json() == {"error": "body.title: String should have at most 10000 characters"}
    listed = client.get("/api/events", params={"limit": 0, "offset": -1}, headers=headers)
    assert listed.status_code == 422
    assert listed.json()["error"].startswith("query.limit: Input should be greater than or equal to 1; ")


def test_unknown_routes_and_methods_answer_in_the_error_shape(sqlite_server):
    client, headers = sqlite_server
    assert client.get("/api/nothing-here", headers=headers).json() == {"error": "Not Found"}
    wrong = client.delete("/api/events", headers=headers)
    assert (wrong.status_code, wrong.json()) == (405, {"error": "Method Not Allowed"})


def test_a_locked_sqlite_database_answers_503_with_retry_after(sqlite_server, sqlite_url):
    client, headers = sqlite_server
    holder = sqlite3.connect(make_url(sqlite_url).database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock past the server's busy timeout
    try:
        reply = client.post("/api/events", json=[EVENT], headers=headers)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert reply.status_code == 503
    assert reply.headers["Retry-After"] == "1"
    assert "busy" in reply.json()["error"]
    assert client.post("/api/events", json=[EVENT], headers=headers).json()["stats"]["processed"] == 1


def test_an_unexpected_failure_is_a_500_in_the_error_shape_without_details(sqlite_server, sqlite_url):
    client, headers = sqlite_server
    with sqlite3.connect(make_url(sqlite_url).database) as broken:
        broken.execute("DROP TABLE votes")
    reply = client.get("/api/stats", headers=headers)
    assert reply.status_code == 500
    assert reply.json() == {"error": "internal server error; the server's log has the details"}
