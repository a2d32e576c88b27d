"""Bodies over a route's limit are refused with 413 while they stream in, before auth and parsing.

Raw sockets against a real uvicorn: a declared length is refused before any body byte is sent, and a
chunked body is cut off shortly after the limit instead of being buffered whole.
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bilan_core.server.api_keys import create_key
from bilan_core.server.app import create_app
from bilan_core.server.body_limit import SMALL_BODY_BYTES
from bilan_core.settings import load_settings
from tests.fixtures.bilan_server import LiveServer

LIMIT = 64 * 1024
CHUNK = 16 * 1024


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[LiveServer, str]]:
    app = create_app(load_settings(database_url=sqlite_url, rate_limit=0, max_body_bytes=LIMIT))
    key = create_key(app.state.engine, project="alpha").key
    server = LiveServer(app)
    server.start()
    yield server, key
    server.stop()


def _connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _status_and_body(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _answered(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def test_a_declared_length_over_the_limit_is_refused_before_the_body_and_the_key(served):
    server, _ = served
    with _connect(server) as sock:
        sock.sendall(
            b"PATCH /api/conversations/c1?user_id=a HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 419430400\r\n\r\n"
        )
        status, body = _status_and_body(sock)
    assert status == 413
    assert body == {"error": f"request body is 419,430,400 bytes; the limit is {LIMIT:,}"}


@pytest.mark.parametrize("path", ["/api/analytics/dashboard", "/api/events"])
def test_a_chunked_body_is_cut_off_at_the_limit_without_a_key(served, path):
    server, _ = served
    sent = 0
    with _connect(server) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        while not _answered(sock) and sent < 100 * LIMIT:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (CHUNK, b"[" * CHUNK))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += CHUNK
            select.select([sock], [], [], 0.005)
        status, body = _status_and_body(sock)
    assert status == 413
    assert body == {"error": f"request body is over the limit of {LIMIT:,} bytes"}
    assert sent < 20 * LIMIT  # refused as it streamed, not after the whole body


def test_each_route_has_its_limit_and_bodies_within_it_still_work(sqlite_url):
    app = create_app(load_settings(database_url=sqlite_url, rate_limit=0))
    headers = {"Authorization": f"Bearer {create_key(app.state.engine, project='alpha').key}"}
    with TestClient(app) as client:
        big_filter = {
            "filter": {"models": ["m" * 200] * 100},
            "prices": {"x" * 100: {"input": 1, "output": 1}},
        }
        padding = {f"model-{i}" + "p" * 150: {"input": 1, "output": 1} for i in range(8000)}
        too_big = client.post("/api/analytics/dashboard", json={"prices": padding}, headers=headers)
        assert too_big.status_code == 413, too_big.text
        assert too_big.json()["error"].endswith(f"bytes; the limit is {SMALL_BODY_BYTES:,}")
        assert client.post("/api/analytics/dashboard", json=big_filter, headers=headers).status_code == 200
        event = {"eventId": "e1", "eventType": "custom", "userId": "a", "timestamp": 1_700_000_000_000}
        large = [dict(event, eventId=f"e{i}", properties={"pad": "x" * 2000}) for i in range(1000)]
        reply = client.post("/api/events", json=large, headers=headers)  # 2 MB: within the ingestion limit
        assert reply.status_code == 200, reply.text[:300]
        assert reply.json()["stats"]["processed"] == 1000
