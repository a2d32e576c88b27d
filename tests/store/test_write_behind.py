"""Write-behind of local turns: journaled before the call returns, stored off the caller's thread,
seen by any read in the process, stored at exit, and replayed after ``kill -9``."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from multiprocessing.connection import Connection
from pathlib import Path

from sqlalchemy import func, select

from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
from bilan_core.store.engine import get_engine
from bilan_core.store.models import LOCAL_PROJECT, Conversation, Turn
from bilan_core.store.write_behind import JOURNALS_SUFFIX, Journal, journal_line, replay_orphans

QUESTION = [{"role": "user", "content": "What is write-behind?"}]


def _database(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _stored_prompt_ids(url: str) -> set[str]:
    """The turns in the file, read with sqlite3 (no Bilan engine, so nothing is flushed or replayed)."""
    with sqlite3.connect(_database(url)) as connection:
        return {row[0] for row in connection.execute("SELECT prompt_id FROM turns")}


def _journaled_bytes(url: str) -> int:
    """The size of every journal segment beside the database."""
    root = _database(url).parent / f"{_database(url).name}{JOURNALS_SUFFIX}"
    return sum(segment.stat().st_size for segment in root.glob("*/*.jsonl"))


def _chat_then_wait(url: str, pipe: Connection) -> None:
    """In a child: three tracked calls (one streamed) once told to go, sending each prompt id on return."""
    client = Bilan(load_settings(database_url=url, user_id="alice", telemetry=False))
    conversation = client.start_conversation("kept")
    pipe.send("ready")
    pipe.recv()
    for _ in range(2):
        pipe.send(client.create_chat_completion(QUESTION, conversation_id=conversation).prompt_id)
    streamed = client.create_streaming_chat(QUESTION, conversation_id=conversation)
    "".join(streamed.stream)
    pipe.send(streamed.prompt_id)
    pipe.recv()  # killed while waiting here


def test_turns_of_calls_that_returned_survive_kill_9(sqlite_url):
    get_engine(sqlite_url)
    context = multiprocessing.get_context("forkserver")
    ours, theirs = context.Pipe()
    child = context.Process(target=_chat_then_wait, args=(sqlite_url, theirs))
    child.start()
    assert ours.poll(120) and ours.recv() == "ready"
    # Hold SQLite's write lock so the child's writer cannot store anything before it is killed.
    blocker = sqlite3.connect(_database(sqlite_url), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    ours.send("go")
    returned = [ours.recv() for _ in range(3) if ours.poll(60)]
    os.kill(child.pid, signal.SIGKILL)
    child.join(30)
    blocker.execute("ROLLBACK")
    blocker.close()
    assert len(returned) == 3 and child.exitcode == -signal.SIGKILL
    assert not _stored_prompt_ids(sqlite_url) & set(returned), "the turns were only in the journal"
    assert _journaled_bytes(sqlite_url) > 0

    client = Bilan(load_settings(database_url=sqlite_url, user_id="alice"))  # replays the dead journal
    with client.engine.connect() as connection:
        stored = connection.execute(select(Turn.prompt_id, Turn.status, Turn.response)).all()
        touched = connection.execute(select(Conversation.updated_ms, Conversation.created_ms)).one()
    assert {row.prompt_id for row in stored} == set(returned)
    assert all(row.status == "ok" and row.response for row in stored)
    assert touched.updated_ms > touched.created_ms, "the conversation was touched by its turns"
    assert _journaled_bytes(sqlite_url) == 0


def test_a_read_in_the_process_sees_every_turn_of_calls_that_returned(bilan):
    prompt_ids = [bilan.create_chat_completion(QUESTION).prompt_id for _ in range(20)]
    with bilan.engine.connect() as connection:
        stored = connection.execute(select(Turn.prompt_id)).scalars().all()
    assert sorted(stored) == sorted(prompt_ids)
    assert bilan.pending() == 0


def test_a_turn_is_stored_as_it_was_when_its_call_returned(bilan):
    """The caller's thread hands on plain values, not a copy made later: changing the messages (or the
    parameters) after the call returns changes nothing stored, and every column is as the call made it."""
    messages = [{"role": "user", "content": "Tell me about write-behind."}]
    answer = bilan.create_chat_completion(messages, temperature=0.5, conversation_id="chat-1", variant="v2")
    messages[0]["content"] = "changed afterwards"
    messages.append({"role": "user", "content": "a second question"})
    with bilan.engine.connect() as connection:
        row = connection.execute(select(Turn).where(Turn.prompt_id == answer.prompt_id)).one()
    assert row.messages == [{"role": "user", "content": "Tell me about write-behind."}]
    assert (row.prompt_text, row.response, row.parameters) == (
        "Tell me about write-behind.", answer.content, {"temperature": 0.5}
    )  # fmt: skip
    assert (row.conversation_id, row.prompt_version, row.user_id, row.model, row.status) == (
        "chat-1", "v2", "alice", answer.model, "ok"
    )  # fmt: skip
    assert (row.capture, row.prompt_chars, row.response_chars) == ("full", 27, len(answer.content))
    assert row.latency_ms == answer.metadata["latency_ms"] and row.created_ms == answer.metadata["created_ms"]


EXITING_CHILD = """
import sys
from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
client = Bilan(load_settings(database_url=sys.argv[1], user_id="alice", telemetry=False))
print(*[client.create_chat_completion([{"role": "user", "content": "hi"}]).prompt_id for _ in range(3)])
sys.stdout.flush()
sys.stdin.readline()
"""


def test_queued_turns_are_stored_when_the_process_exits(sqlite_url):
    get_engine(sqlite_url)
    blocker = sqlite3.connect(_database(sqlite_url), isolation_level=None)
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(EXITING_CHILD), sqlite_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    blocker.execute("BEGIN IMMEDIATE")  # the child's writer waits (SQLite's busy timeout is 5 s)
    returned = set(child.stdout.readline().split())
    child.stdin.write("exit now\n")
    child.stdin.flush()
    blocker.execute("ROLLBACK")
    assert child.wait(60) == 0
    assert len(returned) == 3 and _stored_prompt_ids(sqlite_url) == returned
    assert _journaled_bytes(sqlite_url) == 0


def test_a_live_process_journal_is_never_replayed_and_a_cut_line_is_skipped(sqlite_url, tmp_path):
    engine = get_engine(sqlite_url)
    turn = {"prompt_id": "p1", "user_id": "alice", "model": "m", "created_ms": 1, "status": "ok"}
    live = Journal(tmp_path / "journals")
    live.append(journal_line(LOCAL_PROJECT, turn))
    assert replay_orphans(engine, tmp_path / "journals") == 0
    dead = tmp_path / "journals" / "1-dead"
    dead.mkdir()
    (dead / "lock").touch()
    cut = journal_line(LOCAL_PROJECT, dict(turn, prompt_id="p2"))[:-9]
    (dead / "000000001.jsonl").write_bytes(journal_line(LOCAL_PROJECT, turn) + cut)
    assert replay_orphans(engine, tmp_path / "journals") == 1
    assert not dead.exists() and live.folder.exists()
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Turn)).scalar() == 1
    live.close()
