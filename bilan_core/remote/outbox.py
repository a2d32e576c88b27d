"""A durable outbox: wire events wait in a small SQLite file until the server has them.

Each row is one event, JSON-encoded, for one destination (endpoint and key), so several clients can
share the file. A row is deleted only once the server answered for it; rows the server refused are
kept as ``failed`` with the reason, never silently dropped. Written in WAL mode, so a process crash
loses nothing that ``add`` returned from.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bilan_core.clock import now_ms

PENDING = "pending"
FAILED = "failed"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT NOT NULL,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try_ms INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_outbox_queue ON outbox (destination, status, seq);
"""
# A user's events, and others' votes on that user's turns (``vote_cast`` / ``vote_cleared`` name the turn).
_TURNS_OF_USER = """
SELECT json_extract(body, '$.properties.turnId') FROM outbox
WHERE destination = :destination AND json_extract(body, '$.userId') = :user
"""
_FORGET = """
DELETE FROM outbox WHERE destination = :destination AND (
    json_extract(body, '$.userId') = :user
    OR json_extract(body, '$.properties.turn_id') IN (SELECT value FROM json_each(:turns))
)
"""


@dataclass(frozen=True)
class OutboxRow:
    """One waiting event: its place in the queue, id, JSON text and how often it was tried."""

    seq: int
    event_id: str
    body: str
    attempts: int


class Outbox:
    """The queue of one destination in an outbox file (created with its folder if missing)."""

    def __init__(self, path: Path, *, destination: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.destination = destination
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=10.0, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA secure_delete=ON")  # sent and forgotten events leave no text in the file
        self._db.executescript(_SCHEMA)

    def add(self, events: Sequence[dict[str, Any]]) -> None:
        """Queue events (durably, before returning)."""
        moment = now_ms()
        rows = [
            (self.destination, event["eventId"], json.dumps(event, ensure_ascii=False), moment)
            for event in events
        ]
        with self._lock, self._db:
            self._db.executemany(
                "INSERT INTO outbox (destination, event_id, body, created_ms) VALUES (?, ?, ?, ?)", rows
            )

    def due(self, limit: int, *, at_ms: int | None = None) -> list[OutboxRow]:
        """The oldest pending events, at most ``limit``, up to the first one not due yet.

        Events are sent in the order they were queued: a batch waiting for a retry holds back the
        events behind it, so a vote and its later change or clearing arrive in that order.
        """
        moment = now_ms() if at_ms is None else at_ms
        rows = self._fetch(
            "SELECT seq, event_id, body, attempts, next_try_ms FROM outbox "
            "WHERE destination = ? AND status = ? ORDER BY seq LIMIT ?",
            (self.destination, PENDING, limit),
        )
        due = []
        for seq, event_id, body, attempts, next_try in rows:
            if next_try > moment:
                break
            due.append(OutboxRow(seq, event_id, body, attempts))
        return due

    def next_try_ms(self) -> int | None:
        """When the oldest pending event may be tried, or None if nothing is pending."""
        found = self._fetch(
            "SELECT next_try_ms FROM outbox WHERE destination = ? AND status = ? ORDER BY seq LIMIT 1",
            (self.destination, PENDING),
        )
        return int(found[0][0]) if found else None

    def remove(self, seqs: Iterable[int]) -> None:
        """Forget events the server has stored (or already had); once none waits, empty the log too."""
        with self._lock:
            with self._db:
                self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(seq,) for seq in seqs])
            waiting = "SELECT 1 FROM outbox WHERE destination = ? AND status = ? LIMIT 1"
            if not self._db.execute(waiting, (self.destination, PENDING)).fetchone():
                self._empty_log()

    def postpone(
        self, seqs: Iterable[int], *, until_ms: int, reason: str, count_attempt: bool = True
    ) -> None:
        """Try events again not before ``until_ms``."""
        step = 1 if count_attempt else 0
        self._update(
            "UPDATE outbox SET next_try_ms = ?, attempts = attempts + ?, last_error = ? WHERE seq = ?",
            [(until_ms, step, reason, seq) for seq in seqs],
        )

    def fail(self, failures: Iterable[tuple[int, str]]) -> None:
        """Keep events the server refused as ``failed``, with the reason, and stop sending them."""
        self._update(
            "UPDATE outbox SET status = ?, last_error = ? WHERE seq = ?",
            [(FAILED, reason, seq) for seq, reason in failures],
        )

    def forget_user(self, user_id: str) -> int:
        """Delete the user's queued and failed events, and others' votes on the user's turns; how many."""
        with self._lock:
            with self._db:
                # Two statements: SQLite 3.40 deletes wrongly when a DELETE's subquery reads its own table.
                parameters = {"destination": self.destination, "user": user_id}
                turns = [turn for (turn,) in self._db.execute(_TURNS_OF_USER, parameters) if turn]
                removed = self._db.execute(_FORGET, parameters | {"turns": json.dumps(turns)}).rowcount
            self._empty_log()
        return max(0, removed)

    def _empty_log(self) -> None:
        # Deleted rows are zeroed in the file (secure_delete), but older copies of their pages stay in
        # the -wal file until it is emptied: sent and forgotten events leave no text on disk.
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _fetch(self, query: str, parameters: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            return self._db.execute(query, parameters).fetchall()

    def _update(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with self._lock, self._db:
            self._db.executemany(statement, rows)

    def count(self, status: str) -> int:
        """How many of this destination's events have ``status`` (pending or failed)."""
        ((found,),) = self._fetch(
            "SELECT count(*) FROM outbox WHERE destination = ? AND status = ?", (self.destination, status)
        )
        return int(found)

    def failures(self, limit: int = 100) -> list[tuple[str, str]]:
        """The newest refused events: (eventId, reason)."""
        rows = self._fetch(
            "SELECT event_id, coalesce(last_error, '') FROM outbox "
            "WHERE destination = ? AND status = ? ORDER BY seq DESC LIMIT ?",
            (self.destination, FAILED, limit),
        )
        return [(event_id, reason) for event_id, reason in rows]

    def close(self) -> None:
        """Close the file (events still queued stay in it for the next client)."""
        with self._lock:
            self._db.close()
