"""The roll-up tables: turns and votes summed per project, UTC day, model, user, team session and version.

The analytics read these instead of scanning turns and votes, so a view costs the same at any number
of turns. They are written in the same transaction as the rows they summarise (``store.rollups``).
An unknown model, team session or prompt version is stored as ``""`` (key columns cannot be NULL).
The status of a turn is summed into ``turns`` (every status), ``errors`` and ``cancels``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, LargeBinary, Table
from sqlmodel import Field, SQLModel

from bilan_core.limits import MAX_LABEL_LENGTH

NONE_KEY = ""  # how a missing model, team session or prompt version is stored in a roll-up key


def _key(length: int = MAX_LABEL_LENGTH) -> Any:
    return Field(primary_key=True, max_length=length)


def _count() -> Any:
    return Field(default=0, sa_type=BigInteger)


def _histogram() -> Any:
    # NULL is the empty histogram (rows are created by a set-based insert that carries no bytes).
    return Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class TurnRollup(SQLModel, table=True):
    """Turns of one day and key: counts by outcome, token sums, latency and TTFT histograms."""

    __tablename__ = "turn_rollups"
    __table_args__ = ({"sqlite_with_rowid": False},)  # clustered on the key: a day range is one read

    project_id: int = Field(primary_key=True, sa_type=BigInteger)
    day: int = Field(primary_key=True, sa_type=BigInteger)
    model: str = _key()
    user_id: str = _key()
    team_session: str = _key()
    prompt_version: str = _key()
    turns: int = _count()
    errors: int = _count()
    cancels: int = _count()
    prompt_tokens: int = _count()
    completion_tokens: int = _count()
    latency_hist: bytes | None = _histogram()
    ttft_hist: bytes | None = _histogram()


class VoteRollup(SQLModel, table=True):
    """Votes of one day and key (the voter and the vote's labels): 👍, 👎, comments and trust weights.

    ``up_weight`` / ``down_weight`` sum ``2 ** ((created_ms - day start) / 7 days)`` over the votes, so
    the trust weight at any later moment is that sum times ``2 ** -(age of the day start / 7 days)``.
    """

    __tablename__ = "vote_rollups"
    __table_args__ = ({"sqlite_with_rowid": False},)

    project_id: int = Field(primary_key=True, sa_type=BigInteger)
    day: int = Field(primary_key=True, sa_type=BigInteger)
    model: str = _key()
    prompt_version: str = _key()
    user_id: str = _key()
    team_session: str = _key()
    up: int = _count()
    down: int = _count()
    comments: int = _count()
    up_weight: float = 0.0
    down_weight: float = 0.0


TURN_ROLLUPS: Table = TurnRollup.__table__  # type: ignore[attr-defined]
VOTE_ROLLUPS: Table = VoteRollup.__table__  # type: ignore[attr-defined]
TURN_KEY = ("project_id", "day", "model", "user_id", "team_session", "prompt_version")
VOTE_KEY = ("project_id", "day", "model", "prompt_version", "user_id", "team_session")
TURN_COUNTERS = ("turns", "errors", "cancels", "prompt_tokens", "completion_tokens")
VOTE_COUNTERS = ("up", "down", "comments", "up_weight", "down_weight")
