"""Realistic synthetic history (turns, votes, comments, conversations) for trying the analytics.

Rows are generated with numpy in chunks and bulk-inserted with SQLAlchemy Core ``insert()``
(executemany) in one transaction, so a million turns load in well under two minutes on SQLite.
The same seed, database state and ``now_ms`` give the same rows.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, func, insert, select

from bilan_core.clock import MS_PER_DAY, now_ms
from bilan_core.settings import load_settings
from bilan_core.store.demo_catalogue import (
    CANCEL_RATE,
    DEMO_MODELS,
    DEMO_USERS,
    ERROR_MESSAGES,
    ERROR_TYPES,
    INCIDENT_DAYS_AGO,
    INCIDENT_MODEL,
    INCIDENT_QUALITY_DROP,
    NEGATIVE_COMMENTS,
    POSITIVE_COMMENTS,
    PROMPT_VERSIONS,
    SYSTEM_PROMPTS,
    TEAM_SESSION_SHARE,
    TEAM_SESSIONS,
    TOPICS,
    USER_WEIGHTS,
    VERSION_QUALITY,
    WEAK_ANSWER_PREFIXES,
    DemoModel,
)
from bilan_core.store.engine import get_engine
from bilan_core.store.models import LOCAL_PROJECT, Conversation, Turn, Vote
from bilan_core.store.rollup_rebuild import rebuild_rollups

DEFAULT_DAYS = 90
TURNS_PER_CONVERSATION = 4
CHUNK_TURNS = 20_000
VOTE_SHARE = 0.5
COMMENT_SHARE = 0.2
MAX_TURNS = 50_000_000


@dataclass(frozen=True)
class DemoSummary:
    """What one demo-data run inserted and how long it took."""

    turns: int
    votes: int
    conversations: int
    seconds: float


def validate_turn_count(turns: object) -> int:
    """``turns`` as a positive int, or ValueError saying what is wrong."""
    if isinstance(turns, str):
        try:
            turns = int(turns.strip().replace("_", ""))
        except ValueError:
            raise ValueError(f"--turns must be a whole number, got {turns!r}") from None
    if type(turns) is not int:
        raise ValueError(f"--turns must be a whole number, got {turns!r}")
    if turns <= 0:
        raise ValueError(f"--turns must be at least 1, got {turns}")
    if turns > MAX_TURNS:
        raise ValueError(f"--turns must be at most {MAX_TURNS:,}, got {turns:,}")
    return turns


def seed_demo_data(
    engine: Engine,
    *,
    turns: int,
    seed: int = 0,
    project_id: int = LOCAL_PROJECT,
    days: int = DEFAULT_DAYS,
    at_ms: int | None = None,
) -> DemoSummary:
    """Insert ``turns`` synthetic turns (about one vote per two) spread over the last ``days`` days."""
    turns = validate_turn_count(turns)
    started = time.perf_counter()
    end_ms = now_ms() if at_ms is None else at_ms
    counts = [0, 0, 0]
    with engine.begin() as connection, _bulk_load_cache(connection):
        plan = _DemoPlan(
            seed=seed,
            project_id=project_id,
            first_turn=_row_count(connection, Turn, project_id),
            first_conversation=_row_count(connection, Conversation, project_id),
            end_ms=end_ms,
            days=days,
        )
        for chunk in plan.chunks(turns):
            _insert(connection, Conversation, chunk.conversations)
            _insert(connection, Turn, chunk.turns)
            _insert(connection, Vote, chunk.votes)
            counts = [
                counts[0] + len(chunk.turns),
                counts[1] + len(chunk.votes),
                counts[2] + len(chunk.conversations),
            ]
        rebuild_rollups(connection, project_id)
    return DemoSummary(
        turns=counts[0], votes=counts[1], conversations=counts[2], seconds=time.perf_counter() - started
    )


@contextmanager
def _bulk_load_cache(connection: Connection) -> Iterator[None]:
    # A bigger page cache while the indexes grow, given back afterwards (the connection is pooled).
    if connection.dialect.name != "sqlite":
        yield
        return
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
    connection.exec_driver_sql("PRAGMA cache_size=-200000")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(previous)}")


def _row_count(connection: Connection, table: Any, project_id: int) -> int:
    count = connection.execute(select(func.count()).select_from(table).where(table.project_id == project_id))
    return int(count.scalar_one())


def _insert(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection.execute(insert(table.__table__), rows)


@dataclass
class _Chunk:
    conversations: list[dict[str, Any]]
    turns: list[dict[str, Any]]
    votes: list[dict[str, Any]]


class _DemoPlan:
    """Draws the synthetic rows, one chunk of whole conversations at a time."""

    def __init__(
        self, *, seed: int, project_id: int, first_turn: int, first_conversation: int, end_ms: int, days: int
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.project_id = project_id
        self.next_turn = first_turn
        self.next_conversation = first_conversation
        self.end_ms = end_ms
        self.span_ms = days * MS_PER_DAY
        self.shares = np.array([m.share for m in DEMO_MODELS]) / sum(m.share for m in DEMO_MODELS)
        self.user_weights = np.array(USER_WEIGHTS) / sum(USER_WEIGHTS)

    def chunks(self, total: int) -> Iterator[_Chunk]:
        """Chunks of about CHUNK_TURNS turns until ``total`` turns are drawn."""
        done = 0
        while done < total:
            size = min(CHUNK_TURNS, total - done)
            yield self._chunk(size)
            done += size

    def _chunk(self, size: int) -> _Chunk:
        rng = self.rng
        start, first_conv = self.next_turn, self.next_conversation
        n_conv = -(-size // TURNS_PER_CONVERSATION)
        self.next_turn += size
        self.next_conversation += n_conv
        conv_model = rng.choice(len(DEMO_MODELS), size=n_conv, p=self.shares)
        conv_user = rng.choice(len(DEMO_USERS), size=n_conv, p=self.user_weights)
        conv_session = np.where(
            rng.random(n_conv) < TEAM_SESSION_SHARE, rng.integers(0, len(TEAM_SESSIONS), n_conv), -1
        )
        conv_version = rng.choice(len(PROMPT_VERSIONS), size=n_conv, p=(0.3, 0.4, 0.3))
        conv_start = self.end_ms - rng.integers(MS_PER_DAY // 24, self.span_ms, n_conv)
        conv_of_turn = np.arange(size) // TURNS_PER_CONVERSATION
        position = np.arange(size) % TURNS_PER_CONVERSATION
        created = np.minimum(
            conv_start[conv_of_turn] + position * rng.integers(20_000, 240_000, size), self.end_ms - 1
        )
        model = conv_model[conv_of_turn]
        topic = rng.integers(0, len(TOPICS), size)
        numbers = _TurnNumbers.draw(rng, model, size)
        good = rng.random(size) < self._quality(model, conv_version[conv_of_turn], created)
        status = np.where(
            rng.random(size) < numbers.error_rate,
            1,
            np.where(rng.random(size) < CANCEL_RATE, 2, 0),
        )
        turn_rows = [
            self._turn_row(
                start + i,
                conv_id=self._conversation_id(first_conv + int(conv_of_turn[i])),
                user=DEMO_USERS[conv_user[conv_of_turn[i]]],
                session=int(conv_session[conv_of_turn[i]]),
                model=DEMO_MODELS[model[i]],
                version=PROMPT_VERSIONS[conv_version[conv_of_turn[i]]],
                topic=int(topic[i]),
                good=bool(good[i]),
                status=int(status[i]),
                numbers=numbers.row(i),
                created=int(created[i]),
                error_type=ERROR_TYPES[int(rng.integers(0, len(ERROR_TYPES)))],
            )
            for i in range(size)
        ]
        conversations = [
            self._conversation_row(
                turn_rows[c * TURNS_PER_CONVERSATION : (c + 1) * TURNS_PER_CONVERSATION],
                first_conv + c,
                int(conv_start[c]),
            )
            for c in range(n_conv)
        ]
        return _Chunk(conversations, turn_rows, self._vote_rows(turn_rows, good))

    def _quality(self, model: np.ndarray, version: np.ndarray, created: np.ndarray) -> np.ndarray:
        quality = np.array([m.quality for m in DEMO_MODELS])[model]
        quality = quality + np.array([VERSION_QUALITY[v] for v in PROMPT_VERSIONS])[version]
        days_ago = (self.end_ms - created) / MS_PER_DAY
        incident_model = [m.name for m in DEMO_MODELS].index(INCIDENT_MODEL)
        in_incident = (
            (model == incident_model)
            & (days_ago <= INCIDENT_DAYS_AGO[0])
            & (days_ago >= INCIDENT_DAYS_AGO[1])
        )
        return np.clip(quality - in_incident * INCIDENT_QUALITY_DROP, 0.02, 0.98)

    def _conversation_id(self, number: int) -> str:
        return f"demo-{self.seed}-c{number}"

    def _conversation_row(self, turns: list[dict[str, Any]], number: int, started: int) -> dict[str, Any]:
        first, last = turns[0], turns[-1]
        return {
            "project_id": self.project_id,
            "conversation_id": self._conversation_id(number),
            "user_id": first["user_id"],
            "title": first["prompt_text"],
            "team_session": first["team_session"],
            "status": "completed",
            "created_ms": min(started, first["created_ms"]),
            "updated_ms": last["created_ms"],
            "ended_ms": last["created_ms"],
        }

    def _turn_row(
        self,
        number: int,
        *,
        conv_id: str,
        user: str,
        session: int,
        model: DemoModel,
        version: str,
        topic: int,
        good: bool,
        status: int,
        numbers: tuple[int, int, float, float],
        created: int,
        error_type: str,
    ) -> dict[str, Any]:
        prompt, answer = TOPICS[topic]
        prompt_tokens, completion_tokens, ttft, latency = numbers
        if not good:
            answer = WEAK_ANSWER_PREFIXES[number % len(WEAK_ANSWER_PREFIXES)] + answer.lower()
        row: dict[str, Any] = {
            "project_id": self.project_id,
            "prompt_id": f"demo-{self.seed}-{number}",
            "conversation_id": conv_id,
            "user_id": user,
            "team_session": TEAM_SESSIONS[session] if session >= 0 else None,
            "model": model.name,
            "provider": model.provider,
            "prompt_version": version,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPTS[version]},
                {"role": "user", "content": prompt},
            ],
            "parameters": {"temperature": 0.7},
            "tools": None,
            "tool_calls": None,
            "route": None,
            "prompt_text": prompt,
            "response": answer,
            "finish_reason": "stop",
            "status": "ok",
            "error_type": None,
            "error_message": None,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "ttft_ms": ttft,
            "latency_ms": latency,
            "created_ms": created,
        }
        if status == 1:
            row.update(
                status="error",
                response=None,
                finish_reason=None,
                error_type=error_type,
                error_message=ERROR_MESSAGES[error_type],
                completion_tokens=None,
                total_tokens=None,
                ttft_ms=None,
            )
        elif status == 2:
            cut = max(1, len(answer) // 3)
            row.update(
                status="cancelled",
                response=answer[:cut],
                finish_reason=None,
                completion_tokens=completion_tokens // 3,
                total_tokens=prompt_tokens + completion_tokens // 3,
                latency_ms=round(latency / 3, 1),
            )
        return row

    def _vote_rows(self, turns: list[dict[str, Any]], good: np.ndarray) -> list[dict[str, Any]]:
        rng = self.rng
        size = len(turns)
        voted = rng.random(size) < VOTE_SHARE
        agrees = rng.random(size) < 0.92
        commented = rng.random(size) < COMMENT_SHARE
        delay = rng.integers(5_000, 600_000, size)
        pick = rng.integers(0, 1_000, size)
        rows = []
        for i in np.flatnonzero(voted).tolist():
            turn = turns[i]
            positive = bool(good[i]) == bool(agrees[i]) and turn["status"] == "ok"
            texts = POSITIVE_COMMENTS if positive else NEGATIVE_COMMENTS
            moment = min(turn["created_ms"] + int(delay[i]), self.end_ms)
            rows.append(
                {
                    "project_id": self.project_id,
                    "prompt_id": turn["prompt_id"],
                    "user_id": turn["user_id"],
                    "value": 1 if positive else -1,
                    "comment": texts[int(pick[i]) % len(texts)] if commented[i] else None,
                    "team_session": turn["team_session"],
                    "model": turn["model"],
                    "prompt_version": turn["prompt_version"],
                    "created_ms": moment,
                    "updated_ms": moment,
                }
            )
        return rows


@dataclass(frozen=True)
class _TurnNumbers:
    prompt_tokens: list[int]
    completion_tokens: list[int]
    ttft_ms: list[float]
    latency_ms: list[float]
    error_rate: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, model: np.ndarray, size: int) -> _TurnNumbers:
        def per_model(field: str) -> np.ndarray:
            return np.array([getattr(m, field) for m in DEMO_MODELS], dtype=float)[model]

        prompt = np.maximum(5, per_model("prompt_tokens") * rng.lognormal(0, 0.5, size)).astype(int)
        completion = np.maximum(1, per_model("completion_tokens") * rng.lognormal(0, 0.6, size)).astype(int)
        ttft = np.round(per_model("ttft_ms") * rng.lognormal(0, 0.35, size), 1)
        latency = np.round(ttft + completion * per_model("ms_per_token") * rng.lognormal(0, 0.2, size), 1)
        return cls(
            prompt.tolist(), completion.tolist(), ttft.tolist(), latency.tolist(), per_model("error_rate")
        )

    def row(self, i: int) -> tuple[int, int, float, float]:
        """The numbers of turn ``i`` of the chunk."""
        return self.prompt_tokens[i], self.completion_tokens[i], self.ttft_ms[i], self.latency_ms[i]


def add_demo_data_command(commands: argparse._SubParsersAction) -> None:
    """``demo-data``: fill the database with synthetic history for the analytics."""
    parser = commands.add_parser("demo-data", help="insert realistic synthetic turns, votes and comments")
    parser.add_argument("--turns", required=True, help="how many turns to insert (e.g. 10000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same data)")
    parser.set_defaults(run=_run_demo_data)


def _run_demo_data(args: argparse.Namespace) -> int:
    turns = validate_turn_count(args.turns)
    engine = get_engine(load_settings().database_url)
    summary = seed_demo_data(engine, turns=turns, seed=args.seed)
    print(
        f"inserted {summary.turns:,} turns, {summary.votes:,} votes and "
        f"{summary.conversations:,} conversations in {summary.seconds:.1f} s"
    )
    return 0
