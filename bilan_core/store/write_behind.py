"""Write-behind for local turns: a tracked call returns before its turn's SQLite transaction runs.

A turn is appended to this process's journal (one ``write`` of a JSON line: the kernel has it once the
call returns, so ``kill -9`` loses nothing) and queued; a background thread stores what is queued in
one transaction and then deletes the journal segments it covered. Read-after-write holds in the
process: every connection the engine hands out first stores what is queued (an ``engine_connect``
hook), so any read, or any other write, sees the turns of calls that returned. ``flush()`` and the
process's exit store what is left; a journal whose process died is replayed by the next process that
opens the database (turns are upserts, so a turn stored and replayed is the same turn).

Journals live beside the SQLite file, in ``<file>-bilan-writes/<pid>-<random>/``: a folder per
process, locked (``flock``) while the process lives, so a live process's journal is never replayed.
Only SQLite files get write-behind; other databases are written on the caller's thread.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event

from bilan_core.clock import now_ms
from bilan_core.store.conversations import ConversationTouch, touch_conversations
from bilan_core.store.engine import write_transaction
from bilan_core.store.models import TurnFields
from bilan_core.store.turns import merge_turns

log = logging.getLogger(__name__)
JOURNALS_SUFFIX = "-bilan-writes"
RETRY_SECONDS = 1.0
LINGER_SECONDS = 0.02  # the writer waits this long after a turn arrives, to store the next ones with it
_writers: dict[Engine, TurnWriter] = {}
_writers_lock = threading.Lock()


@dataclass(frozen=True)
class QueuedTurn:
    """A finished turn waiting to be stored, with the moment it touches its conversation."""

    project_id: int
    prompt_id: str
    fields: dict[str, Any]
    touched_ms: int

    @classmethod
    def from_line(cls, line: bytes) -> QueuedTurn:
        """The turn a journal line holds."""
        project_id, prompt_id, fields, touched_ms = json.loads(line)
        return cls(project_id, prompt_id, fields, touched_ms)


def journal_line(project_id: int, fields: TurnFields) -> bytes:
    """The journal line of a turn queued now: ``[project, prompt id, fields, moment]``.

    Plain values dumped by ``json`` on the caller's thread (about 10 µs for a short chat); the writer's
    thread parses the line back and stores it, so no table object is built before the call returns.
    """
    return b"%s\n" % json.dumps([project_id, fields["prompt_id"], fields, now_ms()]).encode()


def store_queued(connection: Connection, queued: Sequence[QueuedTurn]) -> None:
    """Store turns as one ``record_turn_in_conversation`` each would have, in their order.

    One statement per turn, not one for all: a batch statement inserts in key order, and turns must get
    their ids (the order of a chat's equal-time turns) in the order their calls returned.
    """
    for item in queued:
        merge_turns(connection, item.project_id, {item.prompt_id: item.fields})
        conversation_id = item.fields.get("conversation_id")
        if conversation_id:
            touch = ConversationTouch(conversation_id, item.touched_ms, item.fields.get("prompt_text"))
            touch_conversations(connection, item.project_id, [touch])


class Journal:
    """This process's numbered segments of queued turns, in a folder it keeps locked while it lives."""

    def __init__(self, root: Path) -> None:
        name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # Made under a name ``replay_orphans`` does not look at, locked, then renamed: another process
        # starting at the same moment never takes a journal that is not locked yet for a dead one's.
        making = root / f"new_{name.replace('-', '_')}"
        making.mkdir(parents=True)
        self._lock_fd = os.open(making / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.folder = making.rename(root / name)
        self._number = 0
        self._fd = self._open_segment()

    def _open_segment(self) -> int:
        self._number += 1
        segment = self.folder / f"{self._number:09d}.jsonl"
        return os.open(segment, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def append(self, line: bytes) -> None:
        """Append a line: once this returns, the line outlives the process."""
        os.write(self._fd, line)

    def seal(self) -> Path:
        """Close the current segment (returned) and start the next."""
        os.close(self._fd)
        sealed = self.folder / f"{self._number:09d}.jsonl"
        self._fd = self._open_segment()
        return sealed

    def close(self) -> None:
        """Remove the journal (everything in it is stored) and release the folder."""
        os.close(self._fd)
        shutil.rmtree(self.folder, ignore_errors=True)
        os.close(self._lock_fd)


def replay_orphans(engine: Engine, root: Path) -> int:
    """Store the journals of processes that died before storing them; the number of turns replayed."""
    replayed = 0
    for folder in sorted(root.glob("*-*")) if root.is_dir() else []:
        try:
            lock_fd = os.open(folder / "lock", os.O_RDWR)
        except FileNotFoundError:
            continue  # being created or removed right now
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)  # its process is alive (or another process is replaying it)
            continue
        try:
            queued = _journal_lines(folder)
            with write_transaction(engine) as connection:
                store_queued(connection, queued)
            shutil.rmtree(folder, ignore_errors=True)
            replayed += len(queued)
        finally:
            os.close(lock_fd)
    if replayed:
        log.warning("stored %d turn(s) that a process ended before storing", replayed)
    return replayed


def _journal_lines(folder: Path) -> list[QueuedTurn]:
    queued = []
    for segment in sorted(folder.glob("*.jsonl")):
        for line in segment.read_bytes().splitlines():
            try:
                queued.append(QueuedTurn.from_line(line))
            except ValueError:  # a line cut short (only a power cut can do that) was never acknowledged
                continue
    return queued


class TurnWriter:
    """Queues one database's turns, journaled, and stores them off the caller's thread."""

    def __init__(self, engine: Engine, root: Path) -> None:
        self.engine = engine
        self.pid = os.getpid()
        replay_orphans(engine, root)
        self.journal = Journal(root)
        self.outstanding = 0
        self._queue: list[bytes] = []
        self._sealed: list[Path] = []
        self._lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._storing = threading.local()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        event.listen(engine, "engine_connect", self._before_use)
        self._thread = threading.Thread(target=self._run, name="bilan-turn-writer", daemon=True)
        self._thread.start()

    def submit(self, project_id: int, fields: TurnFields) -> None:
        """Journal and queue a finished turn; it is stored shortly, or by the next read."""
        line = journal_line(project_id, fields)
        with self._lock:
            if self._closed:
                raise RuntimeError("the turn writer is closed")
            self.journal.append(line)
            wake = not self._queue  # a queue that was not empty has woken the writer already
            self._queue.append(line)
            self.outstanding += 1
        if wake:
            self._wake.set()

    def flush(self) -> None:
        """Store every queued turn now (on this thread), or wait for the store already under way."""
        if self.outstanding == 0 or getattr(self._storing, "active", False) or os.getpid() != self.pid:
            return
        with self._drain_lock:
            with self._lock:
                batch, self._queue = self._queue, []
                if batch:
                    self._sealed.append(self.journal.seal())
            if batch:
                self._store(batch)

    def _store(self, batch: list[bytes]) -> None:
        self._storing.active = True
        try:
            with write_transaction(self.engine) as connection:
                store_queued(connection, [QueuedTurn.from_line(line) for line in batch])
        except BaseException:
            with self._lock:
                self._queue[:0] = batch  # kept, in order, for the next try; its segments stay on disk
            self._wake.set()  # the writer tries again (a turn submitted now finds the queue not empty)
            raise
        finally:
            self._storing.active = False
        with self._lock:
            self.outstanding -= len(batch)
            sealed, self._sealed = self._sealed, []
        for segment in sealed:
            segment.unlink(missing_ok=True)

    def _before_use(self, _connection: Connection) -> None:
        self.flush()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if not self._closed:
                self._stop.wait(LINGER_SECONDS)
            self._wake.clear()
            if self._closed:
                return
            try:
                self.flush()
            except Exception:
                log.exception("could not store queued turns; trying again in %g s", RETRY_SECONDS)
                self._stop.wait(RETRY_SECONDS)
                self._wake.set()

    def close(self) -> None:
        """Store what is queued, stop the thread and remove the journal (kept if storing failed)."""
        if self._closed or os.getpid() != self.pid:
            return
        try:
            self.flush()
        finally:
            with self._lock:
                self._closed = True
            self._stop.set()
            self._wake.set()
            self._thread.join(timeout=10)
            event.remove(self.engine, "engine_connect", self._before_use)
        self.journal.close()


def journals_folder(engine: Engine) -> Path | None:
    """Where a SQLite file's journals go (beside it), or None for databases written directly."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    database = Path(url.database).resolve()
    return database.parent / f"{database.name}{JOURNALS_SUFFIX}"


def turn_writer(engine: Engine) -> TurnWriter | None:
    """This process's writer for a SQLite file's engine (made, replaying dead journals, on first use)."""
    writer = _writers.get(engine)
    if writer is not None and writer.pid == os.getpid():
        return writer
    root = journals_folder(engine)
    if root is None:
        return None
    with _writers_lock:
        writer = _writers.get(engine)
        if writer is None or writer.pid != os.getpid():
            writer = _writers[engine] = TurnWriter(engine, root)
        return writer


def close_writers() -> None:
    """Store every queued turn and stop the writers (at exit, and before engines are disposed)."""
    with _writers_lock:
        writers = [writer for writer in _writers.values() if writer.pid == os.getpid()]
        _writers.clear()
    for writer in writers:
        writer.close()


atexit.register(close_writers)
