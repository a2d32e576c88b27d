"""Two server processes on different ports, one PostgreSQL and one Redis: one rate limit, one store."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import httpx2
import psycopg
import pytest

from bilan_core.server.api_keys import create_key
from bilan_core.store.engine import dispose_engines, get_engine
from tests.fixtures.bilan_server import free_port
from tests.postgres_support import fresh_postgres_database

pytestmark = pytest.mark.postgres
REDIS_URL = os.environ.get("BILAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RATE, BURST = 0.5, 20  # a moving window of 20 requests per 40 seconds per key
T0 = 1_790_000_000_000


@dataclass
class TwoServers:
    """Two ``serve`` processes sharing a database and a Redis, and two keys of one project."""

    urls: tuple[str, str]
    keys: list[str]
    database_url: str


@contextmanager
def serving(database_url: str) -> Iterator[str]:
    """``python -m bilan_core serve`` on a free loopback port with the shared limit; yields its URL."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("BILAN_")}
    env |= {
        "BILAN_DATABASE_URL": database_url,
        "BILAN_REDIS_URL": REDIS_URL,
        "BILAN_RATE_LIMIT": str(RATE),
        "BILAN_RATE_LIMIT_BURST": str(BURST),
        "BILAN_TELEMETRY": "false",
    }
    command = [sys.executable, "-m", "bilan_core", "serve", "--port", str(port), "--no-access-log"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the server exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            if httpx2.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become healthy in 60 s")


@pytest.fixture(scope="module")
def two_servers() -> Iterator[TwoServers]:
    """The two servers, started one after the other (the first migrates the database)."""
    with ExitStack() as stack:
        database_url = stack.enter_context(fresh_postgres_database("bilan_hosts"))
        keys = [create_key(get_engine(database_url), project="alpha").key for _ in range(2)]
        dispose_engines()
        first = stack.enter_context(serving(database_url))
        second = stack.enter_context(serving(database_url))
        yield TwoServers(urls=(first, second), keys=keys, database_url=database_url)


def _allowed(url: str, key: str, requests: int) -> list[int]:
    """The statuses of ``requests`` requests sent one after another to ``url``."""
    with httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        return [client.get("/api/events", params={"limit": 1}).status_code for _ in range(requests)]


def test_the_rate_limit_holds_across_two_servers(two_servers):
    statuses: list[list[int]] = [[], []]

    def hammer(index: int) -> None:
        statuses[index] = _allowed(two_servers.urls[index], two_servers.keys[0], 2 * BURST)

    clients = [threading.Thread(target=hammer, args=(index,)) for index in (0, 1)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    allowed = [answers.count(200) for answers in statuses]
    assert all(set(answers) <= {200, 429} for answers in statuses), statuses
    # The window (BURST / RATE seconds) is longer than the test, so the two servers together let exactly
    # one burst through; each keeping its own limit would let two through.
    assert abs(sum(allowed) - BURST) <= 0.1 * BURST, allowed


def _events(turns: range) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    for turn in turns:
        turn_id, at = f"turn_{turn}", T0 + turn * 1000
        events += [
            {
                "eventId": f"s{turn}",
                "eventType": "turn_started",
                "timestamp": at,
                "userId": f"user{turn % 3}",
                "properties": {"turnId": turn_id, "model": f"model{turn % 2}", "conversation_id": "c1"},
                "promptText": f"question {turn}",
            },
            {
                "eventId": f"c{turn}",
                "eventType": "turn_completed",
                "timestamp": at + 400,
                "userId": f"user{turn % 3}",
                "properties": {
                    "turnId": turn_id,
                    "responseTime": 0.4,
                    "prompt_tokens": 7,
                    "conversation_id": "c1",
                },
                "aiResponse": f"answer {turn}",
            },
            {
                "eventId": f"v{turn}",
                "eventType": "vote_cast",
                "timestamp": at + 900,
                "userId": f"user{turn % 3}",
                "properties": {"turn_id": turn_id, "value": 1 if turn % 3 else -1, "comment": f"note {turn}"},
            },
        ]
    return events


def _post(url: str, key: str, events: list[dict[str, object]]) -> None:
    reply = httpx2.post(
        f"{url}/api/events", json=events, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert reply.status_code == 200, reply.text


def _count(database_url: str, table: str) -> int:
    with psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql")) as connection:
        row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_events_sent_to_either_server_are_stored_once_and_both_answer_the_same_analytics(two_servers):
    (first, second), key = two_servers.urls, two_servers.keys[1]
    events = _events(range(20))
    _post(first, key, events[:30])
    _post(second, key, events[30:])
    # A client re-sending everything to both servers at once, as after a failover.
    senders = [threading.Thread(target=_post, args=(url, key, events)) for url in (first, second)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    counts = {table: _count(two_servers.database_url, table) for table in ("events", "turns", "votes")}
    assert counts == {"events": 60, "turns": 20, "votes": 20}
    answers = [_analytics(url, key) for url in (first, second)]
    assert answers[0] == answers[1]
    assert answers[0]["stats"]["total_votes"] == 20


def _analytics(url: str, key: str) -> dict[str, object]:
    with httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        replies = {
            "stats": client.get("/api/stats"),
            "votes": client.get("/api/analytics/votes"),
            "turns": client.get("/api/analytics/turns"),
            "dashboard": client.post("/api/analytics/dashboard", json={"filter": {"start_ms": T0}}),
            "version": client.get("/api/analytics/data-version"),
        }
    assert all(reply.status_code == 200 for reply in replies.values()), replies
    return {name: reply.json() for name, reply in replies.items()}
