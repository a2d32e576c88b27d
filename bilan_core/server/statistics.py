"""Keeping PostgreSQL's planner statistics current while a young server's tables grow fast.

Autovacuum analyzes a table only after it grew by 10% and looks once a minute. Until then a new
database's tables look empty to the planner, which then picks any index led by ``project_id`` for
a lookup by ``prompt_id`` and filters the whole project: each request gets slower as the tables
grow. So every few thousand stored events the server checks its tables and analyzes those that
grew by half since their last analysis (big tables never qualify; autovacuum keeps those).
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)
CHECK_EVERY_ROWS = 2_000
TABLES = ("events", "turns", "votes", "conversations")
_STALE = text(
    """
    SELECT relname FROM pg_stat_user_tables
    WHERE relname IN ('events', 'turns', 'votes', 'conversations')
      AND n_mod_since_analyze > 1000 + n_live_tup / 2
    """
)


class StatisticsKeeper:
    """Counts stored rows and, every ``CHECK_EVERY_ROWS``, analyzes the tables that grew by half."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.enabled = engine.dialect.name == "postgresql"
        self._written = 0
        self._lock = threading.Lock()

    def stored(self, rows: int) -> None:
        """Note ``rows`` new events; analyze stale tables when due (one thread at a time)."""
        if not self.enabled or rows <= 0:
            return
        with self._lock:
            self._written += rows
            due = self._written >= CHECK_EVERY_ROWS
            if due:
                self._written = 0
        if due:
            self._analyze_stale()

    def _analyze_stale(self) -> None:
        try:
            with self.engine.connect() as connection:
                stale = [name for name in connection.execute(_STALE).scalars() if name in TABLES]
                for name in stale:
                    connection.execute(text(f"ANALYZE {name}"))
                connection.commit()
        except Exception:  # statistics are an optimisation: never fail a request for them
            log.exception("could not refresh planner statistics")
