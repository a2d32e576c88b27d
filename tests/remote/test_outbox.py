"""Server mode loses nothing across a process's end: a crash keeps the outbox, a normal exit drains it.

Each client runs in a real child process (its own interpreter, so ``atexit`` and a hard kill are
real) against a real uvicorn server on a fresh PostgreSQL database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

import bilan_core as bilan_module
from bilan_core import BilanError
from bilan_core.api import init
from bilan_core.store.models import Vote
from tests.fixtures.bilan_server import LiveServer, ServerProject, free_port
from tests.helpers import server_options

pytestmark = pytest.mark.postgres
VOTES = 200
ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import os, sys
    import bilan_core as bilan

    client = bilan.init(mode="server", user_id="child", telemetry=False)
    for i in range({votes}):
        client.vote(f"turn-{{i}}", 1 if i % 2 else -1, f"comment {{i}}")
    if sys.argv[1] == "crash":
        assert client.backend.pending() == {votes}, client.backend.pending()  # the server is down
        os._exit(9)  # no atexit, no close: as if the process were killed
    sys.exit(0)  # a normal exit: the client is never closed by the caller
    """
).format(votes=VOTES)


def run_child(how: str, *, endpoint: str, key: str, outbox: Path) -> int:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BILAN_ENDPOINT": endpoint,
        "BILAN_API_KEY": key,
        "BILAN_OUTBOX_PATH": str(outbox),
        # The sender would send on its own only after an hour or 1,000 events: only exit can send.
        "BILAN_BATCH_SIZE": "1000",
        "BILAN_BATCH_INTERVAL": "3600",
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, how], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode


def stored_votes(project: ServerProject) -> tuple[int, int]:
    with Session(project.engine) as session:
        total, distinct = session.execute(
            select(func.count(), func.count(func.distinct(Vote.prompt_id))).where(
                Vote.project_id == project.project_id
            )
        ).one()
    return total, distinct


def test_a_normal_exit_drains_the_outbox_without_close(server_project, live_server, tmp_path):
    outbox = tmp_path / "outbox.db"
    assert run_child("exit", endpoint=live_server.url, key=server_project.key, outbox=outbox) == 0
    assert stored_votes(server_project) == (VOTES, VOTES)


def test_a_crashed_client_s_votes_are_sent_by_the_next_client_exactly_once(server_project, tmp_path):
    outbox = tmp_path / "outbox.db"
    server = LiveServer(server_project.app, port=free_port())  # not started: the server is down
    assert run_child("crash", endpoint=server.url, key=server_project.key, outbox=outbox) == 9
    assert stored_votes(server_project) == (0, 0)
    server.start()
    client = init(**server_options(server_project.key, server.url, outbox_path=outbox))
    try:
        assert client.backend.flush(timeout=20), f"{client.backend.pending()} still pending"
        assert client.backend.failed() == 0
    finally:
        client.close()
        server.stop()
    assert stored_votes(server_project) == (VOTES, VOTES)


def test_flush_pending_failed_and_close_are_on_the_client_and_the_module(server_project, bilan):
    assert (bilan.flush(timeout=0), bilan.pending(), bilan.failed()) == (True, 0, 0)  # local mode
    server = LiveServer(server_project.app, port=free_port())  # down for now
    client = bilan_module.init(**server_options(server_project.key, server.url))
    try:
        for i in range(5):
            bilan_module.vote(f"turn-{i}", 1)
        assert (client.pending(), client.failed()) == (5, 0)
        assert bilan_module.flush(timeout=0.2) is False
        server.start()
        assert bilan_module.flush(timeout=20) is True
        assert (client.pending(), client.failed()) == (0, 0)
        bilan_module.close()
        assert bilan_module.api._default is None
        with pytest.raises(BilanError, match="closed"):
            client.vote("turn-0", -1)
    finally:
        client.close()
        server.stop()
    assert stored_votes(server_project) == (5, 5)
