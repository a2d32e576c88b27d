"""The server's scheduled prune: with ``BILAN_RETENTION_DAYS`` set, at start-up and then every hour.

Each server process runs its own schedule in a background thread. On PostgreSQL an advisory lock lets
one process prune at a time (the others skip that round); on SQLite the deletes are idempotent and
each short batch takes the database's write lock, so a second run at once only repeats the search.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from bilan_core.store.removal import RemovalReport
from bilan_core.store.retention import PRUNE_NEVER, prune_exclusively

log = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 3600.0
STOP_WAIT_SECONDS = 30.0


class PruneSchedule:
    """Prunes what is older than ``days`` days now and then every ``every_seconds``, until stopped."""

    def __init__(self, engine: Engine, *, days: int, every_seconds: float = PRUNE_EVERY_SECONDS) -> None:
        self.engine = engine
        self.days = days
        self.every_seconds = every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bilan-prune", daemon=True)

    def start(self) -> None:
        """Start the background thread (its first prune begins at once)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the prune under way, if any (waiting for it at most 30 s)."""
        self._stop.set()
        self._thread.join(timeout=STOP_WAIT_SECONDS)

    def run_once(self) -> RemovalReport | None:
        """One prune; None when another process was pruning or it failed (the failure is logged)."""
        try:
            report = prune_exclusively(self.engine, days=self.days)
        except Exception:  # the schedule must outlive a failed round: the next one tries again
            log.exception("Bilan: the scheduled prune failed; it runs again in %.0f s", self.every_seconds)
            return None
        if report is None:
            log.info("Bilan: another server process is pruning; this one skips the round")
        else:
            log.info(
                "Bilan: pruned data older than %d days (%s)",
                self.days,
                ", ".join(report.lines(leave_out=PRUNE_NEVER)),
            )
        return report

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.every_seconds)
