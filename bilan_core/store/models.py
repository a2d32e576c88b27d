"""Database tables and their public shapes (SQLModel).

Times are stored as integer epoch milliseconds (UTC): they compare, bucket and index the same way
on SQLite and PostgreSQL. ``project_id`` scopes every row to a server project; local mode uses 0.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Table, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from bilan_core.limits import MAX_LABEL_LENGTH

LOCAL_PROJECT = 0
# The UTC day of an epoch-ms time, spelled exactly like this in queries so that indexes on it match.
DAY_BUCKET_SQL = "(created_ms / 86400000)"


def _ms_column(*, index: bool = False, nullable: bool = False) -> Any:
    return Field(default=None if nullable else 0, sa_type=BigInteger, index=index, nullable=nullable)


def _json_column() -> Any:
    # None is stored as SQL NULL, not the JSON text 'null': merging a turn's events keeps what an
    # earlier event brought (COALESCE skips NULL only), on SQLite as on PostgreSQL.
    return Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))


def _text_column() -> Any:
    return Field(default=None, sa_column=Column(Text, nullable=True))


class Conversation(SQLModel, table=True):
    """A chat conversation: a sequence of turns by one user."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("project_id", "conversation_id", name="uq_conversations_key"),
        Index("ix_conversations_user", "project_id", "user_id", "updated_ms"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(default=LOCAL_PROJECT)
    conversation_id: str = Field(max_length=MAX_LABEL_LENGTH)
    user_id: str = Field(max_length=MAX_LABEL_LENGTH)
    title: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    team_session: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    status: str = Field(default="active", max_length=40)
    created_ms: int = _ms_column()
    updated_ms: int = _ms_column()
    ended_ms: int | None = _ms_column(nullable=True)


class Turn(SQLModel, table=True):
    """One model call: the request, the answer and how it went."""

    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("project_id", "prompt_id", name="uq_turns_prompt"),
        Index("ix_turns_created", "project_id", "created_ms"),
        Index("ix_turns_model_created", "project_id", "model", "created_ms"),
        Index("ix_turns_conversation", "project_id", "conversation_id", "created_ms"),
        # A covering index for reading one day's turns (the part of a day outside an analytics range;
        # the analytics read the roll-ups in store/rollup_tables.py for whole days).
        Index(
            "ix_turns_daily",
            "project_id",
            text(DAY_BUCKET_SQL),
            "model",
            "prompt_version",
            "status",
            "created_ms",
            "user_id",
            "team_session",
            "prompt_tokens",
            "completion_tokens",
            "latency_ms",
            "ttft_ms",
        ),
        # Led by (project_id, column) so the filter pickers list distinct values with a few seeks.
        Index("ix_turns_prompt_version", "project_id", "prompt_version"),
        Index("ix_turns_team_session", "project_id", "team_session"),
        Index("ix_turns_prompt", "project_id", "prompt_name", "prompt_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(default=LOCAL_PROJECT)
    prompt_id: str = Field(max_length=MAX_LABEL_LENGTH)
    conversation_id: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    user_id: str = Field(max_length=MAX_LABEL_LENGTH)
    team_session: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    model: str = Field(max_length=MAX_LABEL_LENGTH)
    provider: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    prompt_version: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    # The stored prompt version the call used (``prompt=``): its name and number, exact where
    # ``prompt_version`` is free text.
    prompt_name: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    prompt_number: int | None = None
    # The prompt id of the earlier answer this turn asked again (Retry, Regenerate); that one is kept.
    regenerated_from: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    messages: list[dict[str, Any]] | None = _json_column()
    parameters: dict[str, Any] | None = _json_column()
    tools: list[dict[str, Any]] | None = _json_column()
    tool_calls: list[dict[str, Any]] | None = _json_column()
    route: dict[str, Any] | None = _json_column()
    prompt_text: str | None = _text_column()
    response: str | None = _text_column()
    finish_reason: str | None = Field(default=None, max_length=40)
    status: str = Field(default="ok", max_length=20)
    error_type: str | None = Field(default=None, max_length=40)
    error_message: str | None = _text_column()
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    ttft_ms: float | None = None
    latency_ms: float | None = None
    created_ms: int = _ms_column()
    # The capture level the texts were kept at (None: not said, as before capture levels), and the
    # texts' lengths, known even when the texts themselves were not captured.
    capture: str | None = Field(default=None, max_length=20)
    prompt_chars: int | None = None
    response_chars: int | None = None


# A turn as plain values: its columns by name, without ``id`` and ``project_id``. Tracked calls hand
# these on instead of a ``Turn`` (building the table object is most of what tracking would cost).
TurnFields = dict[str, Any]
TURN_NOT_FIELDS = frozenset({"id", "project_id"})


def turn_fields_of(turn: Turn) -> TurnFields:
    """A ``Turn``'s fields as plain JSON values."""
    return turn.model_dump(mode="json", exclude=set(TURN_NOT_FIELDS))


class Vote(SQLModel, table=True):
    """A person's 👍 (+1) or 👎 (-1) on one turn, with an optional comment.

    ``model``, ``prompt_version`` and the stored prompt (``prompt_name``, ``prompt_number``) are copied
    from the turn so that per-model and per-prompt vote figures need no join; a vote that arrives before
    its turn (server mode) gets them when the turn arrives.
    """

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("project_id", "prompt_id", "user_id", name="uq_votes_one_per_user"),
        Index("ix_votes_created", "project_id", "created_ms"),
        Index("ix_votes_model_created", "project_id", "model", "created_ms"),
        Index(
            "ix_votes_daily",
            "project_id",
            text(DAY_BUCKET_SQL),
            "model",
            "prompt_version",
            "value",
            "created_ms",
            "user_id",
            "team_session",
        ),
        Index("ix_votes_user", "project_id", "user_id"),  # the voters the filter picker lists
        # Makes max(updated_ms), part of the analytics' cheap data version, a single seek.
        Index("ix_votes_updated", "project_id", "updated_ms"),
        Index(
            "ix_votes_commented",
            "project_id",
            "created_ms",
            sqlite_where=text("comment IS NOT NULL"),
            postgresql_where=text("comment IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(default=LOCAL_PROJECT)
    prompt_id: str = Field(max_length=MAX_LABEL_LENGTH)
    user_id: str = Field(max_length=MAX_LABEL_LENGTH)
    value: int
    comment: str | None = _text_column()
    team_session: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    model: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    prompt_version: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    prompt_name: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    prompt_number: int | None = None
    created_ms: int = _ms_column()
    updated_ms: int = _ms_column()


class Event(SQLModel, table=True):
    """A generic event: ``track()`` calls locally, every ingested wire event on a server."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("project_id", "event_id", name="uq_events_event_id"),
        Index("ix_events_type_time", "project_id", "event_type", "timestamp_ms"),
        Index("ix_events_time", "project_id", "timestamp_ms"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(default=LOCAL_PROJECT)
    event_id: str = Field(max_length=MAX_LABEL_LENGTH)
    event_type: str = Field(max_length=100)
    user_id: str = Field(max_length=MAX_LABEL_LENGTH)
    conversation_id: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    timestamp_ms: int = _ms_column()
    properties: dict[str, Any] | None = _json_column()
    prompt_text: str | None = _text_column()
    ai_response: str | None = _text_column()


class Comparison(SQLModel, table=True):
    """A blind or open A/B comparison of two variants' answers to one prompt."""

    __tablename__ = "comparisons"
    __table_args__ = (Index("ix_comparisons_created", "project_id", "created_ms"),)

    id: str = Field(primary_key=True, max_length=64)
    project_id: int = Field(default=LOCAL_PROJECT)
    user_id: str = Field(max_length=MAX_LABEL_LENGTH)
    team_session: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    variant_a: dict[str, Any] | None = _json_column()
    variant_b: dict[str, Any] | None = _json_column()
    label_a: str = Field(max_length=400)
    label_b: str = Field(max_length=400)
    prompt_id_a: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    prompt_id_b: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    blind: bool = True
    a_shown_first: bool = True
    winner: str | None = Field(default=None, max_length=20)
    comment: str | None = _text_column()
    created_ms: int = _ms_column()
    decided_ms: int | None = _ms_column(nullable=True)


class BatchRun(SQLModel, table=True):
    """A stored run of many calls, resumable after a crash: a ``batch`` over a file of prompts, or an
    ``experiment`` (a dataset × variants; ``file_name`` holds its name)."""

    __tablename__ = "batch_runs"

    id: str = Field(primary_key=True, max_length=64)
    project_id: int = Field(default=LOCAL_PROJECT)
    user_id: str = Field(max_length=MAX_LABEL_LENGTH)
    file_name: str = Field(max_length=400)
    kind: str = Field(default="batch", max_length=20)
    settings: dict[str, Any] | None = _json_column()
    status: str = Field(default="pending", max_length=20)
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    created_ms: int = _ms_column()
    updated_ms: int = _ms_column()


class BatchItem(SQLModel, table=True):
    """One prompt of a batch run and, once answered, the turn it produced."""

    __tablename__ = "batch_items"
    __table_args__ = (UniqueConstraint("run_id", "position", name="uq_batch_items_position"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=64, index=True)
    position: int
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    item_metadata: dict[str, Any] | None = _json_column()
    status: str = Field(default="pending", max_length=20)
    prompt_id: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    error: str | None = _text_column()
    updated_ms: int = _ms_column()


class Project(SQLModel, table=True):
    """A server project: the scope of every key, read and write."""

    __tablename__ = "projects"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=MAX_LABEL_LENGTH, unique=True)
    created_ms: int = _ms_column()
    # The most this project's events may keep (a capture level); every event is lowered to it.
    max_capture: str = Field(default="full", max_length=20, sa_column_kwargs={"server_default": "full"})


class ApiKey(SQLModel, table=True):
    """A server API key, stored only as its SHA-256 hash."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(index=True)
    prefix: str = Field(max_length=20)
    key_hash: str = Field(max_length=64, unique=True)
    created_ms: int = _ms_column()
    revoked_ms: int | None = _ms_column(nullable=True)


# The Core tables, for set-based statements (SQLModel's classes do not declare ``__table__`` to mypy).
CONVERSATIONS: Table = Conversation.__table__  # type: ignore[attr-defined]
TURNS: Table = Turn.__table__  # type: ignore[attr-defined]
VOTES: Table = Vote.__table__  # type: ignore[attr-defined]
EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
COMPARISONS: Table = Comparison.__table__  # type: ignore[attr-defined]
BATCH_RUNS: Table = BatchRun.__table__  # type: ignore[attr-defined]
BATCH_ITEMS: Table = BatchItem.__table__  # type: ignore[attr-defined]
