"""One change marker for everything the analytics show, the same in local and server mode.

The Analytics page caches its figures under this marker, so it must change whenever a turn, a vote, a
conversation or an event is added, changed or deleted. It is the project's row of ``data_versions``,
raised by every transaction that writes them (``store.data_versions``): one key lookup, whatever the
number of turns, scoped to the project (a project learns nothing of another's activity).
"""

from __future__ import annotations

from sqlalchemy import Engine

from bilan_core.store.data_versions import read_version
from bilan_core.store.models import LOCAL_PROJECT


def data_version(engine: Engine, *, project_id: int = LOCAL_PROJECT) -> tuple[int, ...]:
    """A fingerprint of the project's turns, votes, conversations and events; any change changes it."""
    with engine.connect() as connection:
        return (read_version(connection, project_id),)
