"""The real ``serve`` and ``keys`` commands in subprocesses, the TCP socket fix, planner statistics."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import text

from bilan_core.server.cli import _tcp_socket
from tests.fixtures.bilan_server import free_port

pytestmark = pytest.mark.postgres
ROOT = str(Path(__file__).resolve().parents[2])
EVENT = {"eventType": "vote_cast", "timestamp": 1_790_000_000_000, "userId": "a"}


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bilan_core", *args], env=env, capture_output=True, text=True, timeout=60
    )


def wait_for_health(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            if httpx2.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            time.sleep(0.1)
    pytest.fail("the server did not become healthy")


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_runs_the_server_with_keys_made_by_the_cli(postgres_url, workers):
    env = dict(os.environ, BILAN_DATABASE_URL=postgres_url, BILAN_RATE_LIMIT="0", PYTHONPATH=ROOT)
    created = run_cli("keys", "create", "--project", "shop", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    command = [sys.executable, "-m", "bilan_core", "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process)
        with httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http:
            for index in range(6):  # with two workers, requests reach both
                event = dict(EVENT, eventId=f"e{index}", properties={"turn_id": f"t{index}", "value": 1})
                assert http.post("/api/events", json=[event]).json()["stats"]["processed"] == 1
            assert http.get("/api/overview").json()["votes"] == 6
            assert http.get("/api/overview", headers={"Authorization": "Bearer nope"}).status_code == 401
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert key not in errors


def test_serve_refuses_a_bad_worker_count(postgres_url):
    env = dict(os.environ, BILAN_DATABASE_URL=postgres_url, PYTHONPATH=ROOT)
    refused = run_cli("serve", "--workers", "0", env=env)
    assert refused.returncode == 2
    assert "--workers must be at least 1, got 0" in refused.stderr


async def accepted_nodelay(listening: socket.socket) -> int:
    """TCP_NODELAY on a connection accepted by an asyncio server on ``listening``."""
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(connected, sock=listening)
    _, writer = await asyncio.open_connection(*listening.getsockname())
    try:
        return await asyncio.wait_for(seen, 5)
    finally:
        writer.close()
        server.close()


def uvicorn_style_socket() -> socket.socket:
    sock = socket.socket(family=socket.AF_INET)  # as uvicorn's Config.bind_socket makes it
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def test_the_shared_socket_is_relabelled_tcp_so_connections_get_nodelay():
    assert asyncio.run(accepted_nodelay(uvicorn_style_socket())) == 0  # the stall this fixes
    relabelled = _tcp_socket(uvicorn_style_socket())
    assert relabelled.proto == socket.IPPROTO_TCP and relabelled.get_inheritable()
    assert asyncio.run(accepted_nodelay(relabelled)) != 0


def test_a_young_database_gets_planner_statistics(server_project):
    def believed_rows(table: str) -> float:
        with server_project.engine.connect() as connection:
            query = text("SELECT reltuples FROM pg_class WHERE relname = :t AND relkind = 'r'")
            return connection.execute(query, {"t": table}).scalar_one()

    assert believed_rows("events") < 0  # never analyzed
    for start in (0, 1000):
        batch = [
            dict(EVENT, eventId=f"v{i}", properties={"turn_id": f"t{i}", "value": 1})
            for i in range(start, start + 1000)
        ]
        assert server_project.post(batch).json()["stats"]["processed"] == 1000
    assert believed_rows("events") == 2000
    assert believed_rows("votes") == 2000
    server_project.post([dict(EVENT, eventId="late", properties={"turn_id": "t", "value": 1})])
    assert believed_rows("events") == 2000  # the next check is at 4,000 events
