"""Keeping PostgreSQL's planner statistics current while a young server's tables grow fast.

Autovacuum analyzes a table only after it grew by 10% and looks once a minute. Until then a new
database's tables look empty to the planner, which then picks any index led by ``project_id`` for
a lookup by ``prompt_id`` and filters the whole project: each request gets slower as the tables
grow. So each time this process has stored twice as many events as at the last check (2,000, then
4,000, 8,000, … up to about a million), it analyzes the tables that the planner believes hold fewer
rows than that. Big, already analyzed tables never qualify; autovacuum keeps those.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)
FIRST_CHECK_ROWS = 2_000
LAST_CHECK_ROWS = 1_100_000
TABLES = ("events", "turns", "votes", "conversations")
# reltuples is -1 for a table never analyzed; ANALYZE updates it at once (no statistics lag).
_BELIEVED_SMALLER = text(
    """
    SELECT relname FROM pg_class
    WHERE relkind = 'r' AND relnamespace = to_regnamespace(current_schema())
      AND relname IN ('events', 'turns', 'votes', 'conversations') AND reltuples < :rows
    """
)


class StatisticsKeeper:
    """Counts the events this process stored and analyzes tables the planner underestimates."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.enabled = engine.dialect.name == "postgresql"
        self.written = 0
        self._next_check = FIRST_CHECK_ROWS
        self._lock = threading.Lock()

    def stored(self, rows: int) -> None:
        """Note ``rows`` new events; analyze underestimated tables when a check is due."""
        if not self.enabled or rows <= 0:
            return
        with self._lock:
            self.written += rows
            due = self.written >= self._next_check and self._next_check <= LAST_CHECK_ROWS
            if due:
                self._next_check = 2 * self.written
            written = self.written
        if due:
            self._analyze_smaller_than(written)

    def _analyze_smaller_than(self, rows: int) -> None:
        try:
            with self.engine.connect() as connection:
                found = connection.execute(_BELIEVED_SMALLER, {"rows": rows}).scalars()
                for name in [name for name in found if name in TABLES]:
                    connection.execute(text(f"ANALYZE {name}"))
                connection.commit()
        except Exception:  # statistics are an optimisation: never fail a request for them
            log.exception("could not refresh planner statistics")
