"""The roll-up tables: turns and votes summed per project, time bucket, model, user, team session and prompt.

The analytics read these instead of scanning turns and votes, so a view costs the same at any number
of turns. They are written in the same transaction as the rows they summarise (``store.rollups``).
There are four levels (``LEVELS``), two time buckets by two key sets: per UTC day (``turn_rollups`` /
``vote_rollups``), what a view reads for the whole days of its range, and per UTC hour (``*_hourly``),
what it reads for the hours of the days its range starts or ends inside; keyed by user too, or summed
over users (``*_by_model``, keyed by team session, model, version and stored prompt: a fraction of the
rows), which every view that does not filter by user reads. All have the same sums.
An unknown model, team session, prompt version or stored prompt is stored as ``""`` (number ``0``):
key columns cannot be NULL. The status of a turn is summed into ``turns`` (every status), ``errors``
and ``cancels``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, LargeBinary, PrimaryKeyConstraint, Table
from sqlmodel import Field, SQLModel

from bilan_core.clock import MS_PER_DAY, MS_PER_HOUR
from bilan_core.limits import MAX_LABEL_LENGTH

NONE_KEY = ""  # how a missing model, team session, prompt version or prompt name is stored in a key
NO_PROMPT_NUMBER = 0  # the prompt number of a turn made without a stored prompt
# User and team session lead the per-user levels' keys: a view of one user or session (the only views
# that read those levels) seeks to its rows in each day instead of reading the whole day.
TURN_KEY_LABELS = ("user_id", "team_session", "model", "prompt_version", "prompt_name", "prompt_number")
VOTE_KEY_LABELS = TURN_KEY_LABELS
MODEL_KEY_LABELS = ("team_session", "model", "prompt_version", "prompt_name", "prompt_number")  # no user


def _key(length: int = MAX_LABEL_LENGTH) -> Any:
    return Field(primary_key=True, max_length=length)


def _count() -> Any:
    return Field(default=0, sa_type=BigInteger)


def _clustered(bucket: str, labels: tuple[str, ...]) -> tuple[Any, ...]:
    # The key leads with project and time bucket, and the table is clustered on it (no rowid on SQLite),
    # so a range of days or hours is one contiguous read.
    return (PrimaryKeyConstraint("project_id", bucket, *labels), {"sqlite_with_rowid": False})


def _histogram() -> Any:
    # NULL is the empty histogram (rows are created by a set-based insert that carries no bytes).
    return Field(default=None, sa_type=LargeBinary, nullable=True)


class _TurnCounts(SQLModel):
    team_session: str = _key()
    model: str = _key()
    prompt_version: str = _key()
    prompt_name: str = _key()
    prompt_number: int = Field(primary_key=True, sa_type=BigInteger)
    turns: int = _count()
    errors: int = _count()
    cancels: int = _count()
    prompt_tokens: int = _count()
    completion_tokens: int = _count()
    latency_hist: bytes | None = _histogram()
    ttft_hist: bytes | None = _histogram()


class _TurnSums(_TurnCounts):
    user_id: str = _key()


class _VoteCounts(SQLModel):
    """``up_weight`` / ``down_weight`` sum ``2 ** ((created_ms - day start) / 7 days)`` over the votes (the
    start of the vote's UTC day at every level), so the trust weight at any later moment is that sum
    times ``2 ** -(age of the day start / 7 days)``."""

    team_session: str = _key()
    model: str = _key()
    prompt_version: str = _key()
    prompt_name: str = _key()
    prompt_number: int = Field(primary_key=True, sa_type=BigInteger)
    up: int = _count()
    down: int = _count()
    comments: int = _count()
    up_weight: float = 0.0
    down_weight: float = 0.0


class _VoteSums(_VoteCounts):
    user_id: str = _key()


class TurnRollup(_TurnSums, table=True):
    """Turns of one UTC day and key: counts by outcome, token sums, latency and TTFT histograms."""

    __tablename__ = "turn_rollups"
    __table_args__ = _clustered("day", TURN_KEY_LABELS)

    project_id: int = Field(primary_key=True, sa_type=BigInteger)
    day: int = Field(primary_key=True, sa_type=BigInteger)


class TurnRollupHourly(_TurnSums, table=True):
    """Turns of one UTC hour and key: the same sums as ``TurnRollup``."""

    __tablename__ = "turn_rollups_hourly"
    __table_args__ = _clustered("hour", TURN_KEY_LABELS)

    project_id: int = Field(primary_key=True, sa_type=BigInteger)
    hour: int = Field(primary_key=True, sa_type=BigInteger)


class TurnRollupByModel(_TurnCounts, table=True):
    """Turns of one UTC day, team session, model, prompt version and stored prompt, over every user."""

    __tablename__ = "turn_rollups_by_model"
    __table_args__ = _clustered("day", MODEL_KEY_LABELS)

    project_id: int = Field(primary_key=True, sa_type=BigInteger)
    day: int = Field(primary_key=True, sa_type=BigInteger)


class TurnRollupByModelHourly(_TurnCounts, table=True):
    """Turns of one UTC hour, team session, model, prompt version and stored prompt, over every user."""

    __tablename__ = "turn_rollups_by_model_hourly"
    __table_args__ = _clustered("hour", MODEL_KEY_LABELS)

    project_id: int = Field(primary_key=True, sa_type=BigInteger)
    hour: int = Field(primary_key=True, sa_type=BigInteger)


class VoteRollup(_VoteSums, table=True):
    """Votes of one UTC day and key (the voter and the vote's labels): 👍, 👎, comments and trust weights."""

    __tablename__ = "vote_rollups"
    __table_args__ = _clustered("day", VOTE_KEY_LABELS)

    project_id: int = Field(primary_key=True, sa_type=BigInteger)
    day: int = Field(primary_key=True, sa_type=BigInteger)


class VoteRollupHourly(_VoteSums, table=True):
    """Votes of one UTC hour and key: the same sums as ``VoteRollup``."""

    __tablename__ = "vote_rollups_hourly"
    __table_args__ = _clustered("hour", VOTE_KEY_LABELS)

    project_id: int = Field(primary_key=True, sa_type=BigInteger)
    hour: int = Field(primary_key=True, sa_type=BigInteger)


class VoteRollupByModel(_VoteCounts, table=True):
    """Votes of one UTC day, team session, model, prompt version and stored prompt, over every voter."""

    __tablename__ = "vote_rollups_by_model"
    __table_args__ = _clustered("day", MODEL_KEY_LABELS)

    project_id: int = Field(primary_key=True, sa_type=BigInteger)
    day: int = Field(primary_key=True, sa_type=BigInteger)


class VoteRollupByModelHourly(_VoteCounts, table=True):
    """Votes of one UTC hour, team session, model, prompt version and stored prompt, over every voter."""

    __tablename__ = "vote_rollups_by_model_hourly"
    __table_args__ = _clustered("hour", MODEL_KEY_LABELS)

    project_id: int = Field(primary_key=True, sa_type=BigInteger)
    hour: int = Field(primary_key=True, sa_type=BigInteger)


TURN_COUNTERS = ("turns", "errors", "cancels", "prompt_tokens", "completion_tokens")
VOTE_COUNTERS = ("up", "down", "comments", "up_weight", "down_weight")


@dataclass(frozen=True)
class RollupLevel:
    """One set of roll-ups: its two tables, its time bucket (column and length) and its key labels."""

    bucket: str  # the name of the time-bucket column: "day" or "hour"
    bucket_ms: int
    turns: Table
    votes: Table
    turn_labels: tuple[str, ...] = TURN_KEY_LABELS
    vote_labels: tuple[str, ...] = VOTE_KEY_LABELS

    @property
    def name(self) -> str:
        """The level's name: its turn table's."""
        return str(self.turns.name)

    @property
    def turn_key(self) -> tuple[str, ...]:
        """The turn roll-up's key columns, in primary-key order."""
        return ("project_id", self.bucket, *self.turn_labels)

    @property
    def vote_key(self) -> tuple[str, ...]:
        """The vote roll-up's key columns, in primary-key order."""
        return ("project_id", self.bucket, *self.vote_labels)


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined]


DAILY = RollupLevel("day", MS_PER_DAY, _table(TurnRollup), _table(VoteRollup))
HOURLY = RollupLevel("hour", MS_PER_HOUR, _table(TurnRollupHourly), _table(VoteRollupHourly))
DAILY_BY_MODEL = RollupLevel(
    "day",
    MS_PER_DAY,
    _table(TurnRollupByModel),
    _table(VoteRollupByModel),
    MODEL_KEY_LABELS,
    MODEL_KEY_LABELS,
)
HOURLY_BY_MODEL = RollupLevel(
    "hour",
    MS_PER_HOUR,
    _table(TurnRollupByModelHourly),
    _table(VoteRollupByModelHourly),
    MODEL_KEY_LABELS,
    MODEL_KEY_LABELS,
)
LEVELS = (DAILY, HOURLY, DAILY_BY_MODEL, HOURLY_BY_MODEL)
TURN_ROLLUPS: Table = DAILY.turns
VOTE_ROLLUPS: Table = DAILY.votes
