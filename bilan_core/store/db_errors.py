"""Which database errors are passing (a lock, a lost connection) and which are the data's fault.

A passing error is worth retrying later; any other one means the statement cannot store what it was
given, so retrying the same input would fail again.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

ResultT = TypeVar("ResultT")

# SQLSTATE classes: connection exception, transaction rollback (deadlock, serialization),
# insufficient resources, operator intervention (shutdown); and "lock not available".
_PASSING_CLASSES = ("08", "40", "53", "57")
_LOCK_NOT_AVAILABLE = "55P03"


def is_transient(exc: DBAPIError) -> bool:
    """True if ``exc`` is a lock wait, a lost connection or another error that passes by itself."""
    if exc.connection_invalidated:
        return True
    original = exc.orig
    if isinstance(original, sqlite3.OperationalError):
        text = str(original).lower()
        return "locked" in text or "busy" in text
    state = getattr(original, "sqlstate", None)
    if isinstance(state, str):
        return state.startswith(_PASSING_CLASSES) or state == _LOCK_NOT_AVAILABLE
    return False


def storage_refusal(exc: DBAPIError) -> str:
    """The database's one-line reason for refusing a statement's data (no SQL, no parameters)."""
    first_line = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
    return f"the database cannot store this event: {first_line[:300]}"


def retried(call: Callable[[], ResultT], *, attempts: int = 3) -> ResultT:
    """``call()``, tried again (up to ``attempts`` in all) while it fails with a passing error.

    SQLite's busy handler is not first come, first served: with many processes writing one file, one
    of them can wait past its busy timeout although the lock was free in between. A short transaction
    that touches nothing outside the database is safe to run again.
    """
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except DBAPIError as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            time.sleep(random.uniform(0, 0.05 * attempt))
    raise AssertionError("unreachable")
